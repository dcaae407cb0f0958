package serve

import (
	"fmt"
	"os"
	"strings"

	"l2hub/internal/ready"
)

// readyInfo is what the ready file says about a running session: this
// process, the control API, and every port as bound (a port 0 filled in).
func (s *Session) readyInfo(ctlAddr string) ready.Info {
	info := ready.Info{PID: os.Getpid(), Control: ctlAddr, Metrics: s.metricsAddr, Ports: []ready.Port{}}
	for _, p := range s.Bound() {
		rp := ready.Port{Name: p.Spec.Name, Transport: string(p.Spec.Transport), Addr: p.Spec.Address, Spec: p.Spec.String()}
		if args := p.Spec.QEMUArgs("n0"); len(args) > 0 {
			rp.Netdev = args[0]
		}
		if p.Down != nil {
			rp.Down = p.Down.Error()
		}
		info.Ports = append(info.Ports, rp)
	}
	return info
}

// announceReady tells whoever waits that every port and the control API
// are bound: the ready file (when asked for; it returns the file written,
// nil for none) and systemd (when NOTIFY_SOCKET is set).
func (s *Session) announceReady(path, ctlAddr string) (*ready.File, error) {
	info := s.readyInfo(ctlAddr)
	var f *ready.File
	if path != "" {
		var err error
		if f, err = ready.Write(path, info); err != nil {
			return nil, err
		}
	}
	names := make([]string, len(info.Ports))
	for i, p := range info.Ports {
		names[i] = p.Name
	}
	status := fmt.Sprintf("serving %s (%s)", ports(len(names)), strings.Join(names, ", "))
	if _, err := ready.Notify(fmt.Sprintf("READY=1\nMAINPID=%d\nSTATUS=%s", info.PID, status)); err != nil {
		s.log.Warn("sd_notify failed", "err", err)
	}
	return f, nil
}

// announceStopping takes the readiness back: the ready file announceReady
// wrote goes, while it is still that file (a stopped hub must not look
// ready, and must not delete what another put there), and systemd hears
// STOPPING=1.
func (s *Session) announceStopping(f *ready.File) {
	if err := f.Remove(); err != nil {
		s.log.Warn("ready file", "err", err)
	}
	if _, err := ready.Notify("STOPPING=1"); err != nil {
		s.log.Warn("sd_notify failed", "err", err)
	}
}
