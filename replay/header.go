package replay

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"l2hub/capture"
	"l2hub/filter"
)

// headerMarker opens the first line of an l2hub capture header
// (capture.Meta's section comment).
const headerMarker = "l2hub capture"

// sectionHeader is what parseHeader made of a section comment.
type sectionHeader struct {
	meta capture.FileMeta
	// rewritten: another tool changed the header (mergecap appends "File
	// created by merging: …" to the first comment); foreign is the text it
	// added, which the header's reading left out.
	rewritten bool
	foreign   string
}

// parseHeader reads a section comment as an l2hub capture header
// (capture.ParseMeta). A header that another tool rewrote still counts
// when its first line starts with the marker and the rest holds the
// header's version line: the lines that are not key=value are left out.
func parseHeader(comment string) (sectionHeader, bool) {
	if m, err := capture.ParseMeta(comment); err == nil {
		return sectionHeader{meta: m}, true
	}
	first, rest, _ := strings.Cut(comment, "\n")
	if !strings.HasPrefix(first, headerMarker) {
		return sectionHeader{}, false
	}
	kept := []string{headerMarker}
	var foreign []string
	if t := strings.TrimSpace(strings.TrimPrefix(first, headerMarker)); t != "" {
		foreign = append(foreign, t)
	}
	version := false
	for line := range strings.SplitSeq(rest, "\n") {
		k, _, ok := strings.Cut(line, "=")
		switch {
		case ok && k != "" && !strings.ContainsAny(k, " \t:"):
			kept = append(kept, line)
			version = version || k == "version"
		case strings.TrimSpace(line) != "":
			foreign = append(foreign, strings.TrimSpace(line))
		}
	}
	if !version {
		return sectionHeader{}, false
	}
	m, err := capture.ParseMeta(strings.Join(kept, "\n"))
	if err != nil {
		return sectionHeader{}, false
	}
	return sectionHeader{meta: m, rewritten: true, foreign: strings.Join(foreign, " ")}, true
}

// mergedFile matches a file mergecap lists in the header it rewrites
// ("File2: run-0001.pcapng").
var mergedFile = regexp.MustCompile(`\bFile\d+: `)

// rewrittenNote says that path's header was rewritten, and what that
// means for the replay. A capture mergecap made of several files is a
// what-if: only the first file's header is left, so the others' (a
// set-policy's, with its policy and the time it took over) are lost.
func rewrittenNote(path string, h sectionHeader) Note {
	text := "this looks like an l2hub capture whose header another tool rewrote"
	if strings.Contains(h.foreign, "merging") {
		text += " (mergecap"
		if h.foreign != "" {
			text += ": " + h.foreign
		}
		if len(mergedFile.FindAllString(h.foreign, -1)) > 1 {
			text += "); it is replayed as an l2hub capture, with the first merged file's header only: " +
				"its start, seed and policy are taken for every frame, and frames of the other files are a what-if under them, " +
				"their set-policies unknown (replay the files themselves, each an input, to have each one's header)"
			return warning(NoteWhatIf, path, text)
		}
		text += "); it is replayed as an l2hub capture, by the header's key=value lines"
	} else {
		if h.foreign != "" {
			text += " (it added " + quoteNote(h.foreign) + ")"
		}
		text += "; it is replayed as an l2hub capture, by the header's key=value lines"
	}
	return warning(NoteHeader, path, text)
}

// quoteNote quotes s, cut to a length a note can hold: at most 200 bytes
// of it, cut where a character starts, so that no character is split (a
// split one would read as U+FFFD in JSON).
func quoteNote(s string) string {
	const most = 200
	if len(s) > most {
		cut := most
		for cut > most-utf8.UTFMax && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return `"` + s + `"`
}

// versionNotes warns, once per file, of a capture whose header records an
// l2hub older than the latest change in how policies decide
// (filter.ChangedSince): replayed with this one's policies, its decisions
// may differ from the run's where its policy has what changed.
func versionNotes(hs []capHeader) []Note {
	var notes []Note
	told := map[string]bool{}
	for _, h := range hs {
		what, ok := filter.ChangedSince(h.meta.Version)
		if !ok || len(what) == 0 || told[h.path] {
			continue
		}
		told[h.path] = true
		notes = append(notes, warning(NoteHeader, h.path, fmt.Sprintf(
			"recorded by l2hub %s, whose policies decided some things differently from this replay's, which decide as l2hub %s does (%s; see filter/POLICY.md's \"Changes in decisions\"): where the policy has them, the replay's decisions are not the run's",
			h.meta.Version, filter.DecidesAsOf(), strings.Join(what, "; "))))
	}
	return notes
}
