package hub

import (
	"strconv"
	"time"
)

// Note says why a rule acted on a frame: "rule loss-a: drop (p=0.05 draw=0.0213)".
type Note struct {
	Link   string // "a->b"; filled by the core when it aggregates notes
	Rule   string // rule name ("" for the hub itself, e.g. partitions by API)
	Action string // drop, delay, duplicate, corrupt, queue, overflow, partition, down, mtu, reorder
	// Detail is the parameters and the draw, for people, as fixed text. A
	// policy that acts on many frames leaves it empty and fills Args
	// instead: the text is then made only when someone reads the note (a
	// capture comment, a log line), and a frame costs no allocation.
	Detail string
	Args   NoteArgs
}

// InjectNotes is how a frame the control API injected shows in a
// capture, on its egress record ("inject (from the control API (l2hub
// inject))"): what a replay looks for to send it again.
var InjectNotes = []Note{{Action: "inject", Detail: "from the control API (l2hub inject)"}}

// NoteArgs are a note's parameters, kept as values and formatted on demand.
// Layout is the text with a verb for each value, taken in order:
//
//	%v  the next of F, in its shortest form (0.05)
//	%4  the next of F, to 4 significant digits (0.02131)
//	%d  the next of N, as an integer
//	%t  the next of N, as a time.Duration (1.5ms)
//	%+t the same with a '+' before a duration that is not negative
//	%s  S
//	%%  a percent sign
//
// The zero value formats as nothing.
type NoteArgs struct {
	Layout string
	F      [5]float64
	N      [4]int64
	S      string
}

// AppendDetail appends the note's detail: Detail, or Args formatted.
func (n *Note) AppendDetail(b []byte) []byte {
	if n.Detail != "" {
		return append(b, n.Detail...)
	}
	a := &n.Args
	fi, ni := 0, 0
	l := a.Layout
	for i := 0; i < len(l); i++ {
		c := l[i]
		if c != '%' || i+1 == len(l) {
			b = append(b, c)
			continue
		}
		i++
		switch l[i] {
		case 'v', '4':
			prec := -1
			if l[i] == '4' {
				prec = 4
			}
			if fi < len(a.F) {
				b = strconv.AppendFloat(b, a.F[fi], 'g', prec, 64)
				fi++
			}
		case 'd':
			if ni < len(a.N) {
				b = strconv.AppendInt(b, a.N[ni], 10)
				ni++
			}
		case '+':
			if i+1 < len(l) && l[i+1] == 't' && ni < len(a.N) {
				i++
				if a.N[ni] >= 0 {
					b = append(b, '+')
				}
				b = append(b, time.Duration(a.N[ni]).String()...) // the string does not escape: no allocation
				ni++
			}
		case 't':
			if ni < len(a.N) {
				b = append(b, time.Duration(a.N[ni]).String()...)
				ni++
			}
		case 's':
			b = append(b, a.S...)
		default:
			b = append(b, l[i])
		}
	}
	return b
}

// DetailText returns the note's detail as text: Detail, or Args formatted.
func (n *Note) DetailText() string { return string(n.AppendDetail(nil)) }

// hasDetail reports whether the note has a detail to show.
func (n *Note) hasDetail() bool { return n.Detail != "" || n.Args.Layout != "" }

// AppendTo appends the note as captures show it:
// "a->b: rule loss-a: drop (p=0.05 draw=0.0213)".
func (n *Note) AppendTo(b []byte) []byte {
	if n.Link != "" {
		b = append(b, n.Link...)
		b = append(b, ": "...)
	}
	if n.Rule != "" {
		b = append(b, "rule "...)
		b = append(b, n.Rule...)
		b = append(b, ": "...)
	}
	b = append(b, n.Action...)
	if n.hasDetail() {
		b = append(b, " ("...)
		b = n.AppendDetail(b)
		b = append(b, ')')
	}
	return b
}

func (n Note) String() string { return string(n.AppendTo(nil)) }

// AppendNotes appends notes as one line, "; "-separated, as captures show
// them.
func AppendNotes(b []byte, notes []Note) []byte {
	for i := range notes {
		if i > 0 {
			b = append(b, "; "...)
		}
		b = notes[i].AppendTo(b)
	}
	return b
}

// FormatNotes joins notes into one line, "; "-separated, as captures show them.
func FormatNotes(notes []Note) string { return string(AppendNotes(nil, notes)) }
