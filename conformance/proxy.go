package conformance

import (
	"errors"
	"fmt"
)

// Proxy service ids: the Kind of a request record after the ladder
// (nexus-wire.md §5.3).
const (
	ServiceSamgr     = 1 // samgr resolve-status, SM v1
	ServiceBundle    = 2 // bundle list, BN v1
	ServicePackageFS = 3 // packagefs read-only, PK v1
	ServiceStateFS   = 4 // statefs read-write, SF v1/v2
)

// ServiceName is the backend node-b's markers name for svc, or "unknown".
func ServiceName(svc byte) string {
	switch svc {
	case ServiceSamgr:
		return "samgrd"
	case ServiceBundle:
		return "bundlemgrd"
	case ServicePackageFS:
		return "packagefsd"
	case ServiceStateFS:
		return "statefsd"
	}
	return "unknown"
}

// Proxy response statuses (the Kind of a response record).
const (
	ProxyStatusOK   = 0 // the backend replied
	ProxyStatusFail = 1 // gate failure, unknown service, or no backend reply
)

// SM v1 (samgrd).
const (
	SMVersion              = 1
	SMOpResolveStatus      = 0x06
	SMOpResolveStatusReply = 0x86
	SMResponseLen          = 13

	SMStatusOK          = 0
	SMStatusNotFound    = 1
	SMStatusMalformed   = 2
	SMStatusUnsupported = 3
)

// BN v1 (bundlemgrd).
const (
	BNVersion           = 1
	BNOpList            = 0x01
	BNOpListReply       = 0x81
	BNResponseLen       = 8
	BNRequestLen        = 4
	BNStatusOK          = 0
	BNStatusMalformed   = 1
	BNStatusUnsupported = 2
)

var (
	smMagic = [2]byte{'S', 'M'}
	bnMagic = [2]byte{'B', 'N'}
)

// SMRequest is `53 4d 01 op name_len name`.
type SMRequest struct {
	Op   byte
	Name string
}

// AppendSMRequest appends an SM v1 request; the whole frame must fit a
// request record (name ≤ 251 bytes).
func AppendSMRequest(dst []byte, op byte, name string) ([]byte, error) {
	if len(name) == 0 || len(name) > MaxRequestPayload-5 {
		return dst, fmt.Errorf("sm request: name length %d, want 1..%d: %w", len(name), MaxRequestPayload-5, ErrInvalidInput)
	}
	dst = append(dst, smMagic[0], smMagic[1], SMVersion, op, byte(len(name)))
	return append(dst, name...), nil
}

// ParseSMRequest decodes an SM v1 request as samgrd would: magic, version,
// then op and a name that must fill the rest exactly.
func ParseSMRequest(b []byte) (SMRequest, error) {
	r := cursor{b: b}
	hdr, err := r.take(4)
	if err != nil {
		return SMRequest{}, fmt.Errorf("sm request header: %w", err)
	}
	if err := checkMagic("sm request", hdr, smMagic, SMVersion); err != nil {
		return SMRequest{}, err
	}
	req := SMRequest{Op: hdr[3]}
	n, err := r.byte()
	if err != nil {
		return req, fmt.Errorf("sm request name length: %w", err)
	}
	name, err := r.take(int(n))
	if err != nil {
		return req, fmt.Errorf("sm request name: %w", err)
	}
	if len(r.b) != 0 {
		return req, fmt.Errorf("sm request: %w", ErrTrailingBytes)
	}
	req.Name = string(name)
	return req, nil
}

// AppendSMResponse appends the 13-byte reply `53 4d 01 86 status 00×8`.
func AppendSMResponse(dst []byte, status byte) []byte {
	dst = append(dst, smMagic[0], smMagic[1], SMVersion, SMOpResolveStatusReply, status)
	return append(dst, make([]byte, SMResponseLen-5)...)
}

// ParseSMResponse decodes an SM reply and returns its status. Bytes after
// the 13th are ignored, as node-a does.
func ParseSMResponse(b []byte) (status byte, err error) {
	if len(b) < SMResponseLen {
		return 0, fmt.Errorf("sm response of %d bytes, want %d: %w", len(b), SMResponseLen, ErrTruncated)
	}
	if err := checkMagic("sm response", b, smMagic, SMVersion); err != nil {
		return 0, err
	}
	if b[3] != SMOpResolveStatusReply {
		return 0, fmt.Errorf("sm response op %#02x: %w", b[3], ErrUnknownKind)
	}
	return b[4], nil
}

// AppendBNRequest appends `42 4e 01 op`.
func AppendBNRequest(dst []byte, op byte) []byte {
	return append(dst, bnMagic[0], bnMagic[1], BNVersion, op)
}

// ParseBNRequest decodes a BN v1 request and returns its op. Trailing bytes
// are ignored.
func ParseBNRequest(b []byte) (op byte, err error) {
	if len(b) < BNRequestLen {
		return 0, fmt.Errorf("bn request of %d bytes: %w", len(b), ErrTruncated)
	}
	if err := checkMagic("bn request", b, bnMagic, BNVersion); err != nil {
		return 0, err
	}
	return b[3], nil
}

// BNResponse is `42 4e 01 81 status count_u16le reserved`.
type BNResponse struct {
	Status byte
	Count  uint16
}

// AppendBNResponse appends the 8-byte LIST reply.
func AppendBNResponse(dst []byte, r BNResponse) []byte {
	return append(dst, bnMagic[0], bnMagic[1], BNVersion, BNOpListReply, r.Status, byte(r.Count), byte(r.Count>>8), 0)
}

// ParseBNResponse decodes a LIST reply; bytes after the 8th are ignored.
func ParseBNResponse(b []byte) (BNResponse, error) {
	if len(b) < BNResponseLen {
		return BNResponse{}, fmt.Errorf("bn response of %d bytes, want %d: %w", len(b), BNResponseLen, ErrTruncated)
	}
	if err := checkMagic("bn response", b, bnMagic, BNVersion); err != nil {
		return BNResponse{}, err
	}
	if b[3] != BNOpListReply {
		return BNResponse{}, fmt.Errorf("bn response op %#02x: %w", b[3], ErrUnknownKind)
	}
	return BNResponse{Status: b[4], Count: uint16(b[5]) | uint16(b[6])<<8}, nil
}

func checkMagic(what string, b []byte, magic [2]byte, version byte) error {
	if b[0] != magic[0] || b[1] != magic[1] {
		return fmt.Errorf("%s: %w % x", what, ErrBadMagic, b[:2])
	}
	if b[2] != version {
		return &VersionError{What: what, Version: b[2]}
	}
	return nil
}

// CheckProxyResponse is node-a's verdict on the response to a request for
// svc, exactly as nexus-wire.md §5.3 gives it (p = response payload):
// resolve is ok when status = 0, len ≥ 13, p[3] = 0x86 and p[4] = 0; list
// when status = 0, len ≥ 8, p[3] = 0x81 and p[4] = 0; any other service when
// status = 0. Magic and version are not part of the verdict: node-a accepts
// `58 59 09 86 00…` as a resolve reply. [CheckProxyResponseHeader] looks at
// them separately.
func CheckProxyResponse(svc byte, rsp Record) error {
	if rsp.Kind != ProxyStatusOK {
		return fmt.Errorf("service %s: proxy status %d: %w", ServiceName(svc), rsp.Kind, ErrProxy)
	}
	var minLen int
	var op byte
	switch svc {
	case ServiceSamgr:
		minLen, op = SMResponseLen, SMOpResolveStatusReply
	case ServiceBundle:
		minLen, op = BNResponseLen, BNOpListReply
	default:
		return nil
	}
	p := rsp.Payload
	if len(p) < minLen {
		return fmt.Errorf("service %s: %w: response of %d bytes, want at least %d: %w", ServiceName(svc), ErrProxy, len(p), minLen, ErrTruncated)
	}
	if p[3] != op {
		return fmt.Errorf("service %s: %w: response op %#02x, want %#02x: %w", ServiceName(svc), ErrProxy, p[3], op, ErrUnknownKind)
	}
	if p[4] != 0 {
		return fmt.Errorf("service %s: backend status %d: %w", ServiceName(svc), p[4], ErrProxy)
	}
	return nil
}

// CheckProxyResponseHeader checks the magic and version of an SM or BN reply
// payload ("SM" or "BN", version 1; nexus-wire.md §5.3), which node-a's
// verdict ignores: a mismatch is a backend outside its documented format,
// not a failed request. It returns nil for other services and for payloads
// too short to carry a header (the verdict already fails those).
func CheckProxyResponseHeader(svc byte, payload []byte) error {
	switch {
	case len(payload) < 3:
		return nil
	case svc == ServiceSamgr:
		return checkMagic("sm response", payload, smMagic, SMVersion)
	case svc == ServiceBundle:
		return checkMagic("bn response", payload, bnMagic, BNVersion)
	}
	return nil
}

// GateAction is what node-b does with one decrypted request.
type GateAction uint8

const (
	// GateForward passes the payload to the service's backend; the reply
	// has status 0 if the backend answers, 1 if it does not.
	GateForward GateAction = iota + 1
	// GateDeny answers status 1 with an empty payload (the bytes of
	// nexus.neg02 at nonce 3), forwarding nothing.
	GateDeny
	// GateDrop sends no reply at all: node-b's receive nonce has advanced
	// but its send nonce has not, so the two drift apart by one.
	GateDrop
)

func (a GateAction) String() string {
	switch a {
	case GateForward:
		return "forward"
	case GateDeny:
		return "deny"
	case GateDrop:
		return "drop"
	}
	return "gate-?"
}

// GateDecision is node-b's ruling on one request, with the marker it prints.
type GateDecision struct {
	Action  GateAction
	Service byte
	Payload []byte // the request payload to forward (aliases the plaintext)
	// Why is the marker detail: "service=samgrd", "service=unknown",
	// "oversized", "malformed" (a plaintext of the wrong size), or "sm-gate"
	// (a svc-1 gate failure, which prints nothing).
	Why string
}

// GateRequest applies node-b's proxy gate (remote_proxy.rs) to one
// decrypted request plaintext of RequestPlainLen bytes:
//   - a declared length above 256: drop, "denied (oversized)";
//   - svc 1 with fewer than 5 bytes, no "SM" or a version other than 1:
//     deny, and no marker;
//   - svc 2: forward any bytes (NX-15); svc 3 and 4: forward to their own
//     parsers;
//   - any other svc: deny, "denied (service=unknown)".
func GateRequest(plain []byte) GateDecision {
	rec, err := ParseRecordPlain(RequestRecord, plain)
	switch {
	case errors.Is(err, ErrOversized):
		return GateDecision{Action: GateDrop, Service: rec.Kind, Why: "oversized"}
	case err != nil: // cannot happen after a successful OpenRecord
		return GateDecision{Action: GateDrop, Why: "malformed"}
	}
	d := GateDecision{Action: GateForward, Service: rec.Kind, Payload: rec.Payload, Why: "service=" + ServiceName(rec.Kind)}
	switch rec.Kind {
	case ServiceSamgr:
		p := rec.Payload
		if len(p) < 5 || p[0] != smMagic[0] || p[1] != smMagic[1] || p[2] != SMVersion {
			d.Action, d.Why = GateDeny, "sm-gate"
		}
	case ServiceBundle, ServicePackageFS, ServiceStateFS:
	default:
		d.Action = GateDeny
	}
	return d
}

// Backend answers forwarded proxy requests on node-b's side.
type Backend interface {
	// Serve returns the reply payload (at most 512 bytes) for a request to
	// svc, or ok = false when the backend does not answer (status 1).
	// It must not retain req.
	Serve(svc byte, req []byte) (reply []byte, ok bool)
}

// BringUpBackend is the virtual node-b's stand-in for samgrd and
// bundlemgrd: resolve-status answers ok for the names in Known (default
// samgrd and bundlemgrd) and not-found otherwise; LIST answers count 1.
// packagefsd and statefsd are not modelled and never answer.
type BringUpBackend struct {
	Known []string
}

// Serve implements Backend.
func (b BringUpBackend) Serve(svc byte, req []byte) ([]byte, bool) {
	switch svc {
	case ServiceSamgr:
		r, err := ParseSMRequest(req)
		switch {
		case err != nil:
			return AppendSMResponse(nil, SMStatusMalformed), true
		case r.Op != SMOpResolveStatus:
			return AppendSMResponse(nil, SMStatusUnsupported), true
		case !b.knows(r.Name):
			return AppendSMResponse(nil, SMStatusNotFound), true
		}
		return AppendSMResponse(nil, SMStatusOK), true
	case ServiceBundle:
		op, err := ParseBNRequest(req)
		switch {
		case err != nil:
			return AppendBNResponse(nil, BNResponse{Status: BNStatusMalformed}), true
		case op != BNOpList:
			return AppendBNResponse(nil, BNResponse{Status: BNStatusUnsupported}), true
		}
		return AppendBNResponse(nil, BNResponse{Status: BNStatusOK, Count: 1}), true
	}
	return nil, false
}

func (b BringUpBackend) knows(name string) bool {
	known := b.Known
	if known == nil {
		known = bringUpServices
	}
	for _, k := range known {
		if k == name {
			return true
		}
	}
	return false
}
