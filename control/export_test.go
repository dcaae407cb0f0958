package control

import "time"

// SetRequestTimeout shortens c's RequestTimeout, for a test of what the
// client says when it fires.
func SetRequestTimeout(c *Client, d time.Duration) { c.http.Timeout = d }

// DelayErrors makes s run pause just before it writes each refusal's
// answer, for a test of a machine that delays that write.
func DelayErrors(s *Server, pause func()) { s.beforeError = pause }
