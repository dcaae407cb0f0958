package checker

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"l2hub/conformance"
)

// The handshake: a session's three handshake messages judged as they
// complete (their sizes, SESS-002; a msg1 node-b must reject, or one sealed
// to a key node-b announced, SESS-004 and SESS-005), then the transcript
// verified with the bring-up keys (SESS-004), which gives the transport keys
// records.go opens records with, and its statics bound to what discovery
// announced (SESS-005). The nexus-v1 deviations a handshake shows (NX-01 to
// NX-05, NX-08) are noted here.

func (s *session) handshakeMessage(side, idx int, body []byte, frames []int) {
	a := s.c.agg
	n := 0 // msg1
	switch {
	case side == 1:
		n = 1
	case idx == 1:
		n = 2
	}
	s.hs[n] = bytes.Clone(body)
	s.hsFrames = appendFrames(s.hsFrames, frames...)
	if !s.nexus() {
		if want := stdSize(side, idx); len(body) != want {
			name := s.plan(side, idx).name
			if n == 0 {
				a.add(Fail, SESS002, s.conn.subject, frames, "handshake is not Noise XK: %s is %d bytes, the spec's is %d", name, len(body), want)
			} else {
				a.add(Fail, SESS002, s.conn.subject, frames, "%s's %s is %d bytes, the spec's is %d", s.by(side, frames...), name, len(body), want)
			}
			s.sizeErr = true
		}
	} else {
		switch n {
		case 0:
			a.add(Info, NX01, "", frames, "handshake is not Noise XK: msg1 is %d bytes, the spec's is %d (tokens -> e / <- e, ee, s, es / -> s, se instead of -> e, es / <- e, ee / -> s, se)", len(body), conformance.StdMsg1Len)
			a.add(Info, NX05, "", frames, "the handshake and the records carry no length prefix: msg1 is the bare 32-byte ephemeral, records are fixed-size")
			if [32]byte(body) == bringUpEphemeral(conformance.RoleA) {
				a.add(Info, NX08, "", frames, "msg1 is node-a's bring-up ephemeral derive_test_secret(E0, 34567): the transcript is the same on every boot and replayable")
			}
		case 1:
			a.add(Info, NX02, "", frames, "msg2 is %d bytes: node-b re-sends its pre-message static, encrypted (the spec's msg2 is %d)", len(body), conformance.StdMsg2Len)
		}
	}
	if n == 1 && s.msg1Sealed && !s.sizeErr {
		s.judgeSealedMsg2(body, frames)
	}
	if n == 0 && !s.sizeErr {
		s.judgeMsg1(body, frames)
	}
	if s.hs[1] != nil && s.hs[2] != nil && !s.hsDone && !s.hsFailed {
		s.handshake()
	}
}

// judgeMsg1 fails a msg1 that node-b rejects before it writes msg2,
// whatever its keys: a low-order ephemeral (every DH with it is all zeros,
// which the OS rejects, §4.1), or a noise-xk msg1 whose es payload does not
// decrypt with node-b's bring-up static, nor with a key node-b announced
// (tampered, forged, or sealed to a key no announce names). The fault is
// node-a's: node-b must then send nothing and close the connection (§4.5),
// and its silence is no failure. A noise-xk msg1 that node-a's bring-up
// keys give sealed to the key node-b announced instead of its bring-up
// static waits for node-b's answer (see msg1Sealed).
func (s *session) judgeMsg1(m1 []byte, frames []int) {
	err := msg1Error(s.c.opts.Profile, m1)
	if err == nil {
		return
	}
	s.msg1Err, s.hsFailed = err, true
	what := fmt.Sprintf("does not read with node-b's bring-up keys (%v)", err)
	switch {
	case errors.Is(err, conformance.ErrZeroDH):
		what = "is a low-order point: node-b's DH with it is all zeros, which the OS rejects (§4.1)"
	case errors.Is(err, conformance.ErrDecrypt):
		s.msg1Keys = "msg1 does not read with its bring-up static and it announced no other key, so it answered a msg1 it could not authenticate, or holds a static it never announced"
		dev, ok := s.c.disc.announced(conformance.RoleB.String())
		if !ok || dev.learnedKey == bringUpStatic(conformance.RoleB) {
			break
		}
		k, ann := short(dev.learnedKey), dev.learnedFrame
		switch _, sealed := stdInitiatorAt(dev.learnedKey, m1); {
		case sealed:
			s.msg1Sealed, s.sealedTo, s.sealedAnn = true, dev.learnedKey, ann
			return
		case [32]byte(m1[:32]) == bringUpEphemeral(conformance.RoleA):
			// msg1 (e, es) depends on E_A and the static it is sealed to.
			what = fmt.Sprintf("does not read with node-b's bring-up static (%v), nor is it what node-a's bring-up keys give for the key %s node-b's announce (frame %d) names", err, k, ann)
			s.msg1Keys = fmt.Sprintf("msg1 does not read with its bring-up static, nor is it sealed to the key %s it announced, so it answered a msg1 it could not authenticate, or holds a static it never announced", k)
		default:
			what = fmt.Sprintf("does not read with node-b's bring-up static (%v); whether it is sealed to the key %s node-b's announce (frame %d) names, where §4.8 pins S_B, the checker cannot tell: its ephemeral is not node-a's bring-up one", err, k, ann)
			s.msg1Keys = fmt.Sprintf("msg1 does not read with its bring-up static, so it holds the key %s it announced, which msg1 may be sealed to, where §3.3 pins the bring-up key, or it answered a msg1 it could not authenticate", k)
		}
	}
	s.msg1Bad = true
	s.c.agg.add(Fail, SESS004, s.conn.subject, frames, "%s's msg1 on %s %s; %s must reject it, send no msg2 and close the connection (§4.5)", s.by(0, frames...), s.conn.subject, what, s.from[1])
}

// judgeSealedMsg2 judges node-b's answer to a msg1 sealed to the key it
// announced (msg1Sealed): if its msg2 reads with node-a's bring-up keys
// and that key, node-b holds it, not its bring-up static; if not, it
// answered a msg1 it could not read.
func (s *session) judgeSealedMsg2(m2 []byte, frames []int) {
	fr := append(slices.Clone(s.hsFrames), s.sealedAnn)
	i, ok := stdInitiatorAt(s.sealedTo, s.hs[0])
	if !ok {
		return // judgeMsg1 found it so
	}
	if _, err := i.ReadMessage(m2); err != nil {
		s.hsFailed = true
		s.c.agg.add(Fail, SESS004, "answered "+s.conn.subject, fr, "%s answered node-a's msg1 on %s, sealed to the key %s its announce (frame %d) names, with a msg2 that does not read with that key (%v): it answered a msg1 it could not read; the OS sends nothing after a msg1 it cannot use and closes the connection (§4.5)",
			s.by(1, frames...), s.conn.subject, short(s.sealedTo), s.sealedAnn, err)
		return
	}
	s.c.agg.add(Fail, SESS005, "static "+s.conn.subject, fr, "%s holds the static %s its announce (frame %d) names, not its bring-up key %s (§3.3): it read node-a's msg1 on %s, sealed to that key, and its msg2 reads with it; node-a sealed msg1 to the announced key where §4.8 pins S_B, the bring-up key",
		s.by(1, frames...), short(s.sealedTo), s.sealedAnn, short(bringUpStatic(conformance.RoleB)), s.conn.subject)
}

// msg1Error is why node-b's bring-up responder rejects msg1, nil if it
// takes it.
func msg1Error(p Profile, m1 []byte) error {
	if p == ProfileNexus {
		return conformance.NewNexusResponder(conformance.BringUpNexusConfig(conformance.RoleB)).ReadMsg1(m1)
	}
	r, err := conformance.NewStdHandshake(conformance.BringUpStdConfig(conformance.RoleB))
	if err != nil {
		return nil // no responder to judge by
	}
	_, err = r.ReadMessage(m1)
	return err
}

// handshake judges the whole transcript.
func (s *session) handshake() {
	a := s.c.agg
	fr := s.hsFrames
	if !s.sizeErr {
		a.pass(SESS002, fr...)
	}
	if !s.orderErr {
		a.pass(SESS003, fr...)
	}
	var keys conformance.SessionKeys
	var decryptable bool
	var err error
	with := "the bring-up keys"
	switch {
	case s.msg1Sealed:
		// node-b holds the key it announced (SESS-005 said so): the
		// transcript is node-a's bring-up keys' with that key.
		keys, decryptable, err = verifyStdFromA(s.sealedTo, s.hs[0], s.hs[1], s.hs[2])
		with = "node-a's bring-up keys and node-b's announced static " + short(s.sealedTo)
	case s.nexus():
		keys, decryptable, err = verifyNexus(s.hs[0], s.hs[1], s.hs[2])
	default:
		keys, decryptable, err = verifyStd(s.hs[0], s.hs[1], s.hs[2])
	}
	switch {
	case !decryptable:
		s.noKeys, s.hsDone = true, true
		a.add(Warn, SESS004, s.conn.subject, fr, "neither ephemeral on %s is a bring-up key, so the transcript cannot be decrypted passively: identity binding, transport keys and records are not checked", s.conn.subject)
		s.c.milestone("nexus session ok " + s.pair() + " unverified")
	case errors.Is(err, conformance.ErrStaticKeyMismatch):
		s.hsFailed = true
		a.add(Fail, SESS005, s.conn.subject, fr, "the handshake on %s carries a static key that is not the pinned bring-up key: %v", s.conn.subject, err)
	case err != nil:
		s.hsFailed = true
		a.add(Fail, SESS004, s.conn.subject, fr, "the transcript on %s does not verify with %s: %v", s.conn.subject, with, err)
	default:
		s.verified, s.hsDone = true, true
		if s.msg1Sealed {
			a.add(Info, SESS004, "sealed "+s.conn.subject, fr, "the transcript on %s verifies with %s: transport keys and records are checked with them", s.conn.subject, with)
		} else {
			a.pass(SESS004, fr...)
		}
		if s.nexus() {
			a.add(Info, NX03, "", fr, "the transcript verifies only without MixHash(prologue): no prologue is hashed, not even an empty one")
			a.add(Info, NX04, "", fr, "the transcript verifies only without EncryptAndHash(payload) for msg1, so no MixHash(\"\") after E_A")
		}
		if s.msg1Sealed {
			s.bindIdentity(a, fr, conformance.RoleA) // node-b's: SESS-005 above
		} else {
			s.bindIdentity(a, fr, conformance.RoleA, conformance.RoleB)
		}
		s.keys[0], s.keys[1] = keys.I2R, keys.R2I
		s.cipher[0] = conformance.NewRecordCipher(keys.I2R, 0)
		s.cipher[1] = conformance.NewRecordCipher(keys.R2I, 0)
		s.c.milestone("nexus session ok " + s.pair())
	}
	for side := range s.awaiting {
		waiting, frames := s.awaiting[side], s.awaitFr[side]
		s.awaiting[side], s.awaitFr[side] = nil, nil
		for i, w := range waiting {
			k := s.records[side]
			if s.nexus() {
				s.record(side, k, w, frames[i])
			} else {
				s.transport(side, k, w, frames[i])
			}
		}
	}
}

// bindIdentity compares the verified statics of roles (the pinned
// bring-up keys) with what each node announced and its peer learned
// (SESS-005).
func (s *session) bindIdentity(a *agg, fr []int, roles ...conformance.Role) {
	ok := true
	for _, r := range roles {
		dev, learned := s.c.disc.announced(r.String())
		pinned := bringUpStatic(r)
		switch {
		case !learned:
			ok = false
			a.add(Info, SESS005, "unbound "+r.String()+" "+s.conn.subject, fr, "no announce of %s reached its peer before the handshake on %s: nothing binds its static to discovery (the OS passes, NX-06)", r, s.conn.subject)
		case dev.learnedKey != pinned:
			ok = false
			a.add(Fail, SESS005, "key "+r.String()+" "+s.conn.subject, append([]int{dev.learnedFrame}, fr...), "%s announced key %s (frame %d), but its handshake static is %s: identity is not bound",
				r, short(dev.learnedKey), dev.learnedFrame, short(pinned))
		}
	}
	if ok {
		a.pass(SESS005, fr...)
	}
}

// verifyNexus decrypts a nexus-v1 transcript with whichever side's
// bring-up keys reproduce it: node-b's when msg2 is what node-b's keys give
// for this msg1, else node-a's when msg1 is node-a's bring-up ephemeral.
// decryptable is false when neither is.
func verifyNexus(m1, m2, m3 []byte) (keys conformance.SessionKeys, decryptable bool, err error) {
	r := conformance.NewNexusResponder(conformance.BringUpNexusConfig(conformance.RoleB))
	if err := r.ReadMsg1(m1); err != nil {
		return keys, true, fmt.Errorf("msg1: %w", err)
	}
	if w, err := r.WriteMsg2(); err == nil && bytes.Equal(w, m2) {
		if err := r.ReadMsg3(m3); err != nil {
			return keys, true, fmt.Errorf("msg3, read with node-b's keys: %w", err)
		}
		keys, err = r.Keys()
		return keys, true, err
	}
	i := conformance.NewNexusInitiator(conformance.BringUpNexusConfig(conformance.RoleA))
	if w, err := i.WriteMsg1(); err != nil || !bytes.Equal(w, m1) {
		return keys, false, nil
	}
	if err := i.ReadMsg2(m2); err != nil {
		return keys, true, fmt.Errorf("msg2, read with node-a's keys: %w", err)
	}
	w, err := i.WriteMsg3()
	if err != nil {
		return keys, true, fmt.Errorf("msg3: %w", err)
	}
	if !bytes.Equal(w, m3) {
		return keys, true, fmt.Errorf("msg3 is not what node-a's bring-up keys give: %w", conformance.ErrTranscriptMismatch)
	}
	keys, err = i.Keys()
	return keys, true, err
}

// verifyStd is verifyNexus for noise-xk, on flynn/noise.
func verifyStd(m1, m2, m3 []byte) (keys conformance.SessionKeys, decryptable bool, err error) {
	r, err := conformance.NewStdHandshake(conformance.BringUpStdConfig(conformance.RoleB))
	if err != nil {
		return keys, false, err
	}
	if _, err := r.ReadMessage(m1); err != nil {
		return keys, true, fmt.Errorf("msg1: %w", err)
	}
	if w, err := r.WriteMessage(nil); err == nil && bytes.Equal(w, m2) {
		if _, err := r.ReadMessage(m3); err != nil {
			return keys, true, fmt.Errorf("msg3, read with node-b's keys: %w", err)
		}
		keys, err = r.Keys()
		return keys, true, err
	}
	return verifyStdFromA(bringUpStatic(conformance.RoleB), m1, m2, m3)
}

// verifyStdFromA verifies a noise-xk transcript from node-a's side, with
// its bring-up keys sealing msg1 to peer; decryptable is false when msg1 is
// not what they give.
func verifyStdFromA(peer [32]byte, m1, m2, m3 []byte) (keys conformance.SessionKeys, decryptable bool, err error) {
	i, ok := stdInitiatorAt(peer, m1)
	if !ok {
		return keys, false, nil
	}
	if _, err := i.ReadMessage(m2); err != nil {
		return keys, true, fmt.Errorf("msg2, read with node-a's keys: %w", err)
	}
	w, err := i.WriteMessage(nil)
	if err != nil {
		return keys, true, fmt.Errorf("msg3: %w", err)
	}
	if !bytes.Equal(w, m3) {
		return keys, true, fmt.Errorf("msg3 is not what node-a's bring-up keys give: %w", conformance.ErrTranscriptMismatch)
	}
	keys, err = i.Keys()
	return keys, true, err
}

// stdInitiatorAt returns node-a's bring-up noise-xk initiator sealing to
// peer, past msg1; ok reports whether msg1 is what it writes.
func stdInitiatorAt(peer [32]byte, m1 []byte) (i *conformance.StdHandshake, ok bool) {
	cfg := conformance.BringUpStdConfig(conformance.RoleA)
	cfg.PeerStatic = peer
	i, err := conformance.NewStdHandshake(cfg)
	if err != nil {
		return nil, false
	}
	w, err := i.WriteMessage(nil)
	return i, err == nil && bytes.Equal(w, m1)
}
