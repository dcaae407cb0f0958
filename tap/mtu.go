package tap

// Bounds of TAPConfig.MTU (a tap port's mtu=): Linux's for an Ethernet
// device (ETH_MIN_MTU) and a TAP device's largest.
const (
	MinMTU = 68
	MaxMTU = 65535
)
