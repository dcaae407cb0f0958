// rule.go holds a compiled rule as Decide sees it: the settings of its
// impairments (loss, delay, reorder, duplicate, corrupt, rate) and their
// bounds, its counters, its state on each link (ruleLink), and the random
// streams its draws come from, keyed by the seed and names alone (D1:
// streamSeed, copyRand, childID). What the impairments do with a frame is
// impair.go's; how a Spec becomes a rule is build.go's.

package filter

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"
)

// counters are one rule's totals over all links. They are written on the hub
// loop and read by anyone (control API, Prometheus), hence atomics.
type counters struct {
	matched, dropped, delayed, duplicated, corrupted, queued, overflowed atomic.Uint64
}

type lossModel uint8

const (
	lossNone lossModel = iota
	lossRandom
	lossGE
)

// lossCfg is random loss with probability p, or netem's Gilbert–Elliott
// model ("loss gemodel p r 1-h 1-k"): p is good->bad, r bad->good, 1-h the
// loss probability in the bad state, 1-k in the good state.
type lossCfg struct {
	model        lossModel
	p            float64
	r, bad, good float64 // gemodel r, 1-h, 1-k
}

type delayCfg struct {
	fixed, jitter time.Duration
	normal        bool // jitter is the standard deviation of a normal; else half-width of a uniform
	reorder       bool // copies may overtake each other; else FIFO per (rule, link)
}

type reorderCfg struct {
	p   float64
	gap int64
}

type dupCfg struct {
	p      float64
	copies int
}

// skipLevel says which headers corruption leaves alone.
type skipLevel uint8

const (
	skipNone skipLevel = iota
	skipEthernet
	skipIP
	skipTransport
)

var skipNames = [...]string{"none", "ethernet", "ip", "transport"}

type corruptCfg struct {
	p    float64
	bits int
	skip skipLevel
}

// rateCfg is a token bucket of burst bytes filled at bps, with a queue of
// queue bytes for frames that find it empty. tau is the burst as time at
// the rate, exactly tau + tauRem/bps ns; the queue's is exactly queueNs +
// queueRem/bps ns.
type rateCfg struct {
	bps              uint64
	burst, queue     int64
	tau, queueNs     time.Duration
	tauRem, queueRem uint64
	rateText         string // formatRate(bps), for notes
}

// cost is n bytes' time at the rate: q + rem/bps ns, rem < bps. n·8e9 fits
// in a uint64 for any n below 2 GB, far above any frame or queue.
func (c *rateCfg) cost(n int, rem uint64) (time.Duration, uint64) {
	bits := uint64(n)*8*1e9 + rem
	return time.Duration(bits / c.bps), bits % c.bps
}

// overQueue reports whether a wait of exactly w0 + (rem-tauRem)/bps ns is
// longer than the queue, queueNs + queueRem/bps ns: whether
// (w0-queueNs)·bps + rem - tauRem - queueRem > 0. The fractions add up to
// less than bps and more than -2·bps, so only a whole-ns difference of 0
// or 1 needs the product, which then fits in an int64 (bps is at most
// 1e12).
func (c *rateCfg) overQueue(w0 time.Duration, rem uint64) bool {
	d := w0 - c.queueNs
	switch {
	case d >= 2:
		return true
	case d < 0:
		return false
	}
	return int64(d)*int64(c.bps)+int64(rem)-int64(c.tauRem)-int64(c.queueRem) > 0
}

// bound on copies of one frame on one link, whatever the duplicate rules say.
const maxCopies = 16

// maxCorruptBits bounds bits flipped per copy.
const maxCorruptBits = 64

type rule struct {
	name    string
	copyKey uint64 // nameKey(name): names the copies the rule makes (childID)
	index   int
	m       matcher
	win     window

	mtu     int // drop when the L3 size exceeds it; 0 = none
	drop    bool
	loss    lossCfg
	dup     *dupCfg
	corrupt *corruptCfg
	delay   *delayCfg
	reorder *reorderCfg
	rate    *rateCfg

	triggers []*trigger // fired by this rule's matches
	c        counters

	matchDesc   string
	actionDescs []string
}

// ruleLink is a rule's state on one link: its window count, its random
// stream and the memory of its impairments. It lives as long as the Policy,
// so a port that reconnects finds its streams where it left them.
type ruleLink struct {
	applies bool
	n       int64
	rng     *rand.Rand
	s1, s2  uint64 // stream seed, used on first draw
	geBad   bool
	lastDep time.Duration // FIFO: latest departure scheduled so far
	reorder int64         // netem's reorder counter
	tat     time.Duration // rate: theoretical arrival time of the bucket,
	tatRem  uint64        // exactly tat + tatRem/bps ns (tatRem < bps)
}

// rand is the rule's stream on the link, for the draws it makes once per
// frame (loss, duplicate).
func (rl *ruleLink) rand() *rand.Rand {
	if rl.rng == nil {
		rl.rng = rand.New(rand.NewPCG(rl.s1, rl.s2))
	}
	return rl.rng
}

// Steps that draw once per copy of a frame, each from its own stream.
const (
	stepCorrupt = iota
	stepDelay
)

// copyRand is the stream for one step's draws on the copy with identity id
// (childID) of the frame the rule is deciding (its rl.n-th on the link). It
// is derived from the rule's stream seed, the frame's number, the copy's
// identity and the step alone, so the copies other rules make or drop
// shift none of this rule's draws, and a copy's draws depend on no other
// copy's. The frame's number and the step name the stream of the frame
// itself (id 0); a copy's differs from it in the low half of the seed by
// mix64(id), a bijection that is 0 only for 0, so no two (frame, copy,
// step) share a stream. It lives in the scratch space: valid until the
// next copyRand.
func (e *eval) copyRand(rl *ruleLink, id uint64, step int) *rand.Rand {
	k := uint64(rl.n)<<8 | uint64(step)
	e.sc.pcg.Seed(mix64(rl.s1^mix64(k)), mix64(rl.s2+k*0x9e3779b97f4a7c15)^mix64(id))
	return e.sc.rng
}

// childID is the identity of the k-th copy (from 1) that the rule whose
// copyKey is rule makes of the copy parent (0: the frame itself). It
// depends on nothing else: the same rule cloning the same copy makes the
// same copy, whatever copies other rules made before it, and two copies
// of one frame share an identity only if a 64-bit hash collides.
func childID(parent, rule uint64, k int) uint64 {
	return mix64(parent ^ mix64(rule^mix64(uint64(k))))
}

// nameKey is a rule name's key for childID: a fixed hash, as streamSeed's.
func nameKey(name string) uint64 {
	sum := sha256.Sum256([]byte("l2hub/filter copy v1\x00" + name))
	return binary.BigEndian.Uint64(sum[:8])
}

// mix64 is SplitMix64's finaliser: a fixed bijection that spreads every
// input bit over the output.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// streamSeed derives a rule's stream on a link from the policy seed and the
// names alone (D1): a fixed hash, so the stream is the same on every run,
// platform and Go version, and adding a port or a rule changes no other.
func streamSeed(seed uint64, from, to, rule string) (uint64, uint64) {
	h := sha256.New()
	var b [8]byte
	h.Write([]byte("l2hub/filter stream v1"))
	binary.BigEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	for _, s := range [...]string{from, to, rule} {
		binary.BigEndian.PutUint64(b[:], uint64(len(s)))
		h.Write(b[:])
		h.Write([]byte(s))
	}
	sum := h.Sum(nil)
	return binary.BigEndian.Uint64(sum[0:8]), binary.BigEndian.Uint64(sum[8:16])
}

func formatRate(bps uint64) string {
	switch {
	case bps%1e9 == 0:
		return strconv.FormatUint(bps/1e9, 10) + "Gbit"
	case bps%1e6 == 0:
		return strconv.FormatUint(bps/1e6, 10) + "Mbit"
	case bps%1e3 == 0:
		return strconv.FormatUint(bps/1e3, 10) + "kbit"
	}
	return strconv.FormatUint(bps, 10) + "bit"
}
