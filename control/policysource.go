package control

import (
	"fmt"
	"io"
	"os"
)

// ReadPolicyFile reads the policy file name for Client.ReplacePolicy (ctl
// set-policy): at most MaxPolicyBytes, as the hub takes (a larger one, or a
// device that never ends, is refused after one byte more), under a name the
// hub takes (CheckPolicyName).
func ReadPolicyFile(name string) ([]byte, error) {
	if err := CheckPolicyName(name); err != nil {
		return nil, err
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadPolicySource(f, name)
}

// ReadPolicySource reads a policy for Client.ReplacePolicy from r (the file
// name, or standard input): at most MaxPolicyBytes, as the hub takes. What
// the hub then refuses of it (ReadPolicy) is the hub's to say.
func ReadPolicySource(r io.Reader, name string) ([]byte, error) {
	src, err := io.ReadAll(io.LimitReader(r, MaxPolicyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(src) > MaxPolicyBytes {
		return nil, fmt.Errorf("policy %s is larger than %d bytes", name, MaxPolicyBytes)
	}
	return src, nil
}
