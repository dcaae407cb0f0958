package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// A node's session (§4, §5): the nexus-v1 handshake on a connection,
// node-a's (initiate) and node-b's (respond), the records sealed and read
// on it within a time bound, and the mux ladder both walk before the first
// proxy request.

// session is one established nexus-v1 session.
type session struct {
	conn       net.Conn
	send, recv *RecordCipher
	wbuf       [ResponseRecordLen]byte
	rbuf       [ResponseRecordLen]byte
}

func (n *Node) nexusConfig() NexusConfig {
	return NexusConfig{
		Static:     n.role.StaticKey(),
		Ephemeral:  n.cfg.Ephemeral,
		PeerStatic: n.role.Peer().StaticKey().Public,
	}
}

func (n *Node) write(ctx context.Context, c net.Conn, b []byte) error {
	return n.within(ctx, c, n.cfg.ReplyTimeout, func() error {
		_, err := c.Write(b)
		return err
	})
}

// readFull fills b from c within d (0: no limit). A read that fails
// before that, and not because the node stops, failed because the peer
// ended the connection (an end of stream, a reset): its error is a
// connEnded.
func (n *Node) readFull(ctx context.Context, c net.Conn, b []byte, d time.Duration) error {
	err := n.within(ctx, c, d, func() error {
		_, err := io.ReadFull(c, b)
		return err
	})
	if err != nil && !errors.Is(err, ErrTimeout) && !stoppedBy(ctx, err) {
		return connEnded{err}
	}
	return err
}

// connEnded marks a read that failed because the peer ended the
// connection, not because a window passed or the node stopped; it reads as
// its cause.
type connEnded struct{ error }

func (e connEnded) Unwrap() error { return e.error }

// ended reports whether err is a read the peer's end of the connection cut
// short.
func ended(err error) bool {
	var e connEnded
	return errors.As(err, &e)
}

// writeRecord seals and sends one record.
func (n *Node) writeRecord(ctx context.Context, s *session, class RecordClass, kind byte, payload []byte) error {
	rec, err := s.send.SealRecord(s.wbuf[:0], class, kind, payload)
	if err != nil {
		return err
	}
	return n.write(ctx, s.conn, rec)
}

// readRecord reads and opens one record; d = 0 waits without limit.
func (n *Node) readRecord(ctx context.Context, s *session, class RecordClass, d time.Duration) (Record, error) {
	wire := s.rbuf[:class.WireLen()]
	if err := n.readFull(ctx, s.conn, wire, d); err != nil {
		return Record{}, err
	}
	return s.recv.OpenRecord(class, wire)
}

// initiate runs node-a's handshake on c.
func (n *Node) initiate(ctx context.Context, c net.Conn) (*session, error) {
	if err := n.checkIdentity(); err != nil {
		return nil, err
	}
	hs := NewNexusInitiator(n.nexusConfig())
	m1, err := hs.WriteMsg1()
	if err != nil {
		return nil, err
	}
	if err := n.write(ctx, c, m1); err != nil {
		return nil, fmt.Errorf("hs init write msg1: %w", err)
	}
	m2 := make([]byte, NexusMsg2Len)
	if err := n.readFull(ctx, c, m2, n.cfg.ReplyTimeout); err != nil {
		return nil, fmt.Errorf("hs init read msg2: %w", err)
	}
	if err := hs.ReadMsg2(m2); err != nil {
		return nil, err
	}
	m3, err := hs.WriteMsg3()
	if err != nil {
		return nil, err
	}
	if err := n.write(ctx, c, m3); err != nil {
		return nil, fmt.Errorf("hs init write msg3: %w", err)
	}
	keys, err := hs.Keys()
	if err != nil {
		return nil, err
	}
	send, recv := keys.Ciphers(true)
	return &session{conn: c, send: send, recv: recv}, nil
}

// respond runs node-b's handshake on c.
func (n *Node) respond(ctx context.Context, c net.Conn) (*session, error) {
	if err := n.checkIdentity(); err != nil {
		return nil, err
	}
	hs := NewNexusResponder(n.nexusConfig())
	m1 := make([]byte, NexusMsg1Len)
	if err := n.readFull(ctx, c, m1, n.cfg.ReplyTimeout); err != nil {
		return nil, fmt.Errorf("hs resp read msg1: %w", err)
	}
	if err := hs.ReadMsg1(m1); err != nil {
		return nil, err
	}
	m2, err := hs.WriteMsg2()
	if err != nil {
		return nil, err
	}
	if err := n.write(ctx, c, m2); err != nil {
		return nil, fmt.Errorf("hs resp write msg2: %w", err)
	}
	m3 := make([]byte, NexusMsg3Len)
	if err := n.readFull(ctx, c, m3, n.cfg.ReplyTimeout); err != nil {
		return nil, fmt.Errorf("hs resp read msg3: %w", err)
	}
	if err := hs.ReadMsg3(m3); err != nil {
		return nil, err
	}
	keys, err := hs.Keys()
	if err != nil {
		return nil, err
	}
	send, recv := keys.Ciphers(false)
	n.emit(MilestoneSession, StatusOK, fmt.Sprintf("peer=%v", n.role.Peer()))
	return &session{conn: c, send: send, recv: recv}, nil
}

// ladder walks the six mux steps; any failure stops the node, as
// dsoftbusd stops. A ladder cut short by the node's stop is not reported
// as failed.
func (n *Node) ladder(ctx context.Context, s *session) error {
	for _, step := range Ladder() {
		if err := n.ladderStep(ctx, s, step); err != nil {
			err = fmt.Errorf("step %d: %w", step.Step, err)
			if !stoppedBy(ctx, err) {
				n.emit(MilestoneMux, StatusFail, fmt.Sprintf("peer=%v err=%q", n.role.Peer(), err.Error()))
			}
			return fmt.Errorf("%w: %w", ErrLadder, err)
		}
	}
	n.emit(MilestoneMux, StatusOK, fmt.Sprintf("peer=%v", n.role.Peer()))
	return nil
}

func (n *Node) ladderStep(ctx context.Context, s *session, step LadderStep) error {
	if step.From == n.role {
		p, err := step.Payload()
		if err != nil {
			return err
		}
		return n.writeRecord(ctx, s, RequestRecord, step.Kind, p)
	}
	rec, err := n.readRecord(ctx, s, RequestRecord, n.cfg.LadderTimeout)
	if err != nil {
		return err
	}
	return step.Check(rec)
}
