package control

import "time"

// SetRequestTimeout shortens c's RequestTimeout, for a test of what the
// client says when it fires.
func SetRequestTimeout(c *Client, d time.Duration) { c.http.Timeout = d }

// TCPNetwork is tcpNetwork, for a test of the family a TCP address binds.
var TCPNetwork = tcpNetwork
