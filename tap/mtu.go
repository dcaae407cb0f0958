package tap

// Bounds of TAPConfig.MTU (a tap port's mtu=): Linux's smallest for an
// Ethernet device (ETH_MIN_MTU), and the largest the tun driver lets a TAP
// device have (its max_mtu: ETH_MAX_MTU, 65535, less the 14-byte Ethernet
// header). The kernel refuses more with a bare EINVAL.
const (
	MinMTU = 68
	MaxMTU = 65535 - 14
)
