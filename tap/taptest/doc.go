// Package taptest helps tests that create real TAP devices and network
// namespaces: NeedTAP skips, saying why, without root or /dev/net/tun;
// UniqueName hands out names that a cleanup checks and removes, so a failed
// run leaves nothing behind on the host.
//
// Imports: tap only.
package taptest
