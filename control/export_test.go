package control

import "time"

// SetRequestTimeout shortens c's RequestTimeout, for a test of what the
// client says when it fires.
func SetRequestTimeout(c *Client, d time.Duration) { c.http.Timeout = d }
