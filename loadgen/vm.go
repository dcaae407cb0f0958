package loadgen

// VM is a simulated VM's end of a port: it speaks the port's QEMU protocol
// one frame per call, as QEMU does (transport.StreamConn, transport.DatagramConn and
// transport.PipeEnd are VMs). The hub's side reads and writes batches instead
// (hub.PortIO's ReadFrames and WriteFrames); a VM never batches across frames.
type VM interface {
	// ReadFrame reads the next frame into buf and returns its length.
	ReadFrame(buf []byte) (int, error)
	// WriteFrame sends one frame; it does not retain it.
	WriteFrame(frame []byte) error
	Close() error
}
