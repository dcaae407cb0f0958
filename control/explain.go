package control

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"l2hub/hub"
)

// Explain adds to a hub's refusal err what the user can do about it: the
// token flags for a missing or wrong token, the hub's ports (asked of c)
// for one it does not have. Any other error is returned as it is.
func (c *Client) Explain(ctx context.Context, err error) error {
	var herr *Error
	switch {
	case !errors.As(err, &herr):
		return err
	case herr.Status == http.StatusUnauthorized:
		return fmt.Errorf("%w (give the hub's token: --control-token-file FILE or $%s)", err, TokenEnv)
	case errors.Is(err, hub.ErrNoPort):
		if ports, perr := c.Ports(ctx); perr == nil {
			names := make([]string, len(ports))
			for i, p := range ports {
				names[i] = p.Name
			}
			return fmt.Errorf("%w (ports: %s)", err, strings.Join(names, ", "))
		}
	}
	return err
}
