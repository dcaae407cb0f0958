package filter

import "l2hub/packet"

// frameHeaders is the one parse of a frame that a Decide call shares
// between all its rules, made when the first rule needs it (packet.Parse:
// it allocates nothing).
type frameHeaders struct {
	parsed bool
	packet.Headers
}

func (p *frameHeaders) ensure(f []byte) {
	if !p.parsed {
		packet.Parse(f, &p.Headers)
		p.parsed = true
	}
}
