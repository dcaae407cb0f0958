package conformance

import (
	"bytes"
	"errors"
	"testing"
)

func requestPlain(t *testing.T, svc byte, payload []byte) []byte {
	t.Helper()
	p, err := AppendRecordPlain(nil, RequestRecord, svc, payload)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGateRequest(t *testing.T) {
	resolve, _ := AppendSMRequest(nil, SMOpResolveStatus, "bundlemgrd")
	tests := []struct {
		name    string
		plain   []byte
		action  GateAction
		why     string
		payload []byte
	}{
		{"sm-resolve", requestPlain(t, ServiceSamgr, resolve), GateForward, "service=samgrd", resolve},
		{"sm-4-bytes", requestPlain(t, ServiceSamgr, []byte("SM\x01\x06")), GateDeny, "sm-gate", nil},
		{"sm-bad-magic", requestPlain(t, ServiceSamgr, []byte("SX\x01\x06\x01a")), GateDeny, "sm-gate", nil},
		{"sm-version-2", requestPlain(t, ServiceSamgr, []byte("SM\x02\x06\x01a")), GateDeny, "sm-gate", nil},
		{"sm-gate-is-only-magic-and-version", requestPlain(t, ServiceSamgr, []byte("SM\x01\xee\xff")), GateForward, "service=samgrd", []byte("SM\x01\xee\xff")},
		{"bn-anything-forwarded", requestPlain(t, ServiceBundle, []byte("junk")), GateForward, "service=bundlemgrd", []byte("junk")},
		{"bn-empty-forwarded", requestPlain(t, ServiceBundle, nil), GateForward, "service=bundlemgrd", []byte{}},
		{"packagefs", requestPlain(t, ServicePackageFS, []byte("PK")), GateForward, "service=packagefsd", []byte("PK")},
		{"statefs", requestPlain(t, ServiceStateFS, []byte("SF")), GateForward, "service=statefsd", []byte("SF")},
		{"unknown-9", requestPlain(t, 9, nil), GateDeny, "service=unknown", nil},
		{"unknown-0", requestPlain(t, 0, nil), GateDeny, "service=unknown", nil},
		{"oversized", appendRecordPlain(nil, RequestRecord, ServiceSamgr, 257, nil), GateDrop, "oversized", nil},
		{"wrong-size", make([]byte, 10), GateDrop, "malformed", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := GateRequest(tt.plain)
			if d.Action != tt.action || d.Why != tt.why {
				t.Errorf("GateRequest = %v %q, want %v %q", d.Action, d.Why, tt.action, tt.why)
			}
			if tt.action == GateForward && !bytes.Equal(d.Payload, tt.payload) {
				t.Errorf("GateRequest payload = %x, want %x", d.Payload, tt.payload)
			}
		})
	}
}

func TestBringUpBackend(t *testing.T) {
	be := BringUpBackend{}
	resolve := func(name string) []byte { b, _ := AppendSMRequest(nil, SMOpResolveStatus, name); return b }
	tests := []struct {
		name   string
		svc    byte
		req    []byte
		ok     bool
		status byte
	}{
		{"resolve-bundlemgrd", ServiceSamgr, resolve("bundlemgrd"), true, SMStatusOK},
		{"resolve-samgrd", ServiceSamgr, resolve("samgrd"), true, SMStatusOK},
		{"resolve-unknown", ServiceSamgr, resolve("nope"), true, SMStatusNotFound},
		{"resolve-bad-op", ServiceSamgr, []byte("SM\x01\x07\x01a"), true, SMStatusUnsupported},
		{"resolve-malformed", ServiceSamgr, []byte("SM\x01\x06\x09a"), true, SMStatusMalformed},
		{"list", ServiceBundle, AppendBNRequest(nil, BNOpList), true, BNStatusOK},
		{"list-bad-op", ServiceBundle, AppendBNRequest(nil, 7), true, BNStatusUnsupported},
		{"list-junk", ServiceBundle, []byte("junk"), true, BNStatusMalformed},
		{"packagefs-not-modelled", ServicePackageFS, []byte("PK"), false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply, ok := be.Serve(tt.svc, tt.req)
			if ok != tt.ok {
				t.Fatalf("Serve ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			var status byte
			var err error
			if tt.svc == ServiceSamgr {
				status, err = ParseSMResponse(reply)
			} else {
				var r BNResponse
				r, err = ParseBNResponse(reply)
				status = r.Status
			}
			if err != nil || status != tt.status {
				t.Errorf("reply %x: status %d, %v; want %d", reply, status, err, tt.status)
			}
		})
	}
}

func TestCheckProxyResponse(t *testing.T) {
	sm := AppendSMResponse(nil, SMStatusOK)
	bn := AppendBNResponse(nil, BNResponse{Count: 1})
	tests := []struct {
		name string
		svc  byte
		rsp  Record
		want error
	}{
		{"resolve-ok", ServiceSamgr, Record{Kind: 0, Payload: sm}, nil},
		{"resolve-trailing-ok", ServiceSamgr, Record{Kind: 0, Payload: append(bytes.Clone(sm), 1, 2)}, nil},
		{"resolve-status-1", ServiceSamgr, Record{Kind: 1}, ErrProxy},
		{"resolve-short", ServiceSamgr, Record{Kind: 0, Payload: sm[:12]}, ErrTruncated},
		{"resolve-not-found", ServiceSamgr, Record{Kind: 0, Payload: AppendSMResponse(nil, SMStatusNotFound)}, ErrProxy},
		{"resolve-got-bn", ServiceSamgr, Record{Kind: 0, Payload: append(bytes.Clone(bn), make([]byte, 5)...)}, ErrUnknownKind},
		// §5.3: magic and version are not part of node-a's verdict.
		{"resolve-bad-magic-and-version-ok", ServiceSamgr, Record{Kind: 0, Payload: []byte("XY\x09\x86\x00\x00\x00\x00\x00\x00\x00\x00\x00")}, nil},
		{"resolve-status-byte-2", ServiceSamgr, Record{Kind: 0, Payload: AppendSMResponse(nil, SMStatusMalformed)}, ErrProxy},
		{"list-ok", ServiceBundle, Record{Kind: 0, Payload: bn}, nil},
		{"list-short", ServiceBundle, Record{Kind: 0, Payload: bn[:7]}, ErrTruncated},
		{"list-wrong-op", ServiceBundle, Record{Kind: 0, Payload: []byte("BN\x01\x01\x00\x01\x00\x00")}, ErrUnknownKind},
		{"list-version-2-ok", ServiceBundle, Record{Kind: 0, Payload: []byte("BN\x02\x81\x00\x01\x00\x00")}, nil},
		{"list-bad-magic-ok", ServiceBundle, Record{Kind: 0, Payload: []byte("SM\x01\x81\x00\x01\x00\x00")}, nil},
		{"list-status-1", ServiceBundle, Record{Kind: 0, Payload: AppendBNResponse(nil, BNResponse{Status: BNStatusMalformed})}, ErrProxy},
		{"other-service-status-0", ServiceStateFS, Record{Kind: 0}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := CheckProxyResponse(tt.svc, tt.rsp); !errors.Is(err, tt.want) {
				t.Errorf("CheckProxyResponse error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCheckProxyResponseHeader(t *testing.T) {
	tests := []struct {
		name    string
		svc     byte
		payload []byte
		want    error
	}{
		{"sm-ok", ServiceSamgr, AppendSMResponse(nil, SMStatusOK), nil},
		{"sm-bad-magic", ServiceSamgr, []byte("XY\x01\x86\x00"), ErrBadMagic},
		{"sm-version-9", ServiceSamgr, []byte("SM\x09\x86\x00"), ErrUnsupportedVersion},
		{"bn-ok", ServiceBundle, AppendBNResponse(nil, BNResponse{Count: 1}), nil},
		{"bn-got-sm", ServiceBundle, []byte("SM\x01\x81\x00"), ErrBadMagic},
		{"too-short-to-judge", ServiceSamgr, []byte("XY"), nil},
		{"statefs-not-judged", ServiceStateFS, []byte("XYZ"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckProxyResponseHeader(tt.svc, tt.payload)
			if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("CheckProxyResponseHeader = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSMRequestCodec(t *testing.T) {
	b, err := AppendSMRequest(nil, SMOpResolveStatus, "bundlemgrd")
	if err != nil || hexString(b) != "534d01060a62756e646c656d677264" {
		t.Fatalf("AppendSMRequest = %x, %v", b, err)
	}
	r, err := ParseSMRequest(b)
	if err != nil || r != (SMRequest{Op: SMOpResolveStatus, Name: "bundlemgrd"}) {
		t.Errorf("ParseSMRequest = %+v, %v", r, err)
	}
	if _, err := AppendSMRequest(nil, SMOpResolveStatus, string(make([]byte, 252))); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("252-byte name: error %v, want ErrInvalidInput", err)
	}
	for name, in := range map[string][]byte{
		"short":    []byte("SM\x01"),
		"trailing": append(bytes.Clone(b), 0),
		"no-name":  []byte("SM\x01\x06\x03ab"),
	} {
		if _, err := ParseSMRequest(in); err == nil {
			t.Errorf("ParseSMRequest(%s) succeeded, want an error", name)
		}
	}
	if len(AppendSMResponse(nil, 0)) != SMResponseLen || len(AppendBNResponse(nil, BNResponse{})) != BNResponseLen {
		t.Errorf("response lengths differ from SMResponseLen/BNResponseLen")
	}
}

// TestProxyResponseCodecs: both replies round-trip every field (a LIST
// count above 255 keeps its high byte), and one byte short is truncated.
func TestProxyResponseCodecs(t *testing.T) {
	sm := AppendSMResponse(nil, 1)
	if status, err := ParseSMResponse(sm); err != nil || status != 1 {
		t.Errorf("got ParseSMResponse(%x) = %d, %v; want 1, nil", sm, status, err)
	}
	if _, err := ParseSMResponse(sm[:SMResponseLen-1]); !errors.Is(err, ErrTruncated) {
		t.Errorf("got ParseSMResponse(%d bytes) error %v, want ErrTruncated", SMResponseLen-1, err)
	}
	want := BNResponse{Status: 2, Count: 0x1234}
	bn := AppendBNResponse(nil, want)
	if r, err := ParseBNResponse(bn); err != nil || r != want {
		t.Errorf("got ParseBNResponse(%x) = %+v, %v; want %+v", bn, r, err, want)
	}
	if _, err := ParseBNResponse(bn[:BNResponseLen-1]); !errors.Is(err, ErrTruncated) {
		t.Errorf("got ParseBNResponse(%d bytes) error %v, want ErrTruncated", BNResponseLen-1, err)
	}
}
