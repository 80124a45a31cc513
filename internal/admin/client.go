package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client talks to a daemon's admin socket.
type Client struct {
	socket string
	hc     *http.Client
}

// NewClient returns a client for the admin socket at path.
func NewClient(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		DisableKeepAlives: true,
	}
	return &Client{socket: path, hc: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
}

// APIError is a failed request's answer.
type APIError struct {
	Status int
	ErrorBody
}

func (e *APIError) Error() string {
	if len(e.Details) == 0 {
		return e.ErrorBody.Error
	}
	return e.ErrorBody.Error + ":\n" + strings.Join(e.Details, "\n")
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://halun"+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ne *net.OpError
		if errors.As(err, &ne) {
			return fmt.Errorf("cannot reach halun's admin socket %s (is `halun serve` running, and are you root?): %w", c.socket, ne.Err)
		}
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		e := &APIError{Status: resp.StatusCode}
		if json.Unmarshal(data, &e.ErrorBody) != nil || e.ErrorBody.Error == "" {
			e.ErrorBody.Error = fmt.Sprintf("%s: %s", resp.Status, bytes.TrimSpace(data))
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("admin API answer: %w", err)
		}
	}
	return nil
}

func esc(s string) string { return url.PathEscape(s) }

// Status describes the daemon.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	return s, c.do(ctx, "GET", "/v1/status", nil, &s)
}

// Stats returns the daemon's counters now.
func (c *Client) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	return s, c.do(ctx, "GET", "/v1/stats", nil, &s)
}

// Volumes lists the volumes.
func (c *Client) Volumes(ctx context.Context) ([]Volume, error) {
	var v []Volume
	return v, c.do(ctx, "GET", "/v1/volumes", nil, &v)
}

// Targets lists the targets.
func (c *Client) Targets(ctx context.Context) ([]Target, error) {
	var v []Target
	return v, c.do(ctx, "GET", "/v1/targets", nil, &v)
}

// Portals lists the portals.
func (c *Client) Portals(ctx context.Context) ([]Portal, error) {
	var v []Portal
	return v, c.do(ctx, "GET", "/v1/portals", nil, &v)
}

// Sessions lists the sessions.
func (c *Client) Sessions(ctx context.Context) ([]Session, error) {
	var v []Session
	return v, c.do(ctx, "GET", "/v1/sessions", nil, &v)
}

func (c *Client) change(ctx context.Context, method, path string, body any) (*Result, error) {
	var r Result
	if err := c.do(ctx, method, path, body, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Reload makes the daemon reread its config file.
func (c *Client) Reload(ctx context.Context) (*Result, error) {
	return c.change(ctx, "POST", "/v1/reload", nil)
}

// AddVolume adds a volume.
func (c *Client) AddVolume(ctx context.Context, v VolumeAdd) (*Result, error) {
	return c.change(ctx, "POST", "/v1/volumes", v)
}

// RemoveVolume removes a volume no target maps.
func (c *Client) RemoveVolume(ctx context.Context, name string) (*Result, error) {
	return c.change(ctx, "DELETE", "/v1/volumes/"+esc(name), nil)
}

// ResizeVolume grows a volume to size (e.g. "30GiB").
func (c *Client) ResizeVolume(ctx context.Context, name, size string) (*Result, error) {
	return c.change(ctx, "POST", "/v1/volumes/"+esc(name)+"/resize", VolumeResize{Size: size})
}

// AddTarget adds a target.
func (c *Client) AddTarget(ctx context.Context, t TargetAdd) (*Result, error) {
	return c.change(ctx, "POST", "/v1/targets", t)
}

// RemoveTarget removes a target, ending its sessions.
func (c *Client) RemoveTarget(ctx context.Context, iqn string) (*Result, error) {
	return c.change(ctx, "DELETE", "/v1/targets/"+esc(iqn), nil)
}

// MapLUN maps volume as lun of target iqn (in initiator's own map if set).
func (c *Client) MapLUN(ctx context.Context, iqn string, lun uint16, volume, initiator string) (*Result, error) {
	return c.change(ctx, "PUT", "/v1/targets/"+esc(iqn)+"/luns/"+strconv.Itoa(int(lun)), LUNMap{Volume: volume, Initiator: initiator})
}

// UnmapLUN removes lun from target iqn (from initiator's own map if set).
func (c *Client) UnmapLUN(ctx context.Context, iqn string, lun uint16, initiator string) (*Result, error) {
	p := "/v1/targets/" + esc(iqn) + "/luns/" + strconv.Itoa(int(lun))
	if initiator != "" {
		p += "?initiator=" + url.QueryEscape(initiator)
	}
	return c.change(ctx, "DELETE", p, nil)
}

// AddACL lets initiator log in to target iqn, with its own LUN map if luns
// is not empty.
func (c *Client) AddACL(ctx context.Context, iqn, initiator string, luns []LUN) (*Result, error) {
	return c.change(ctx, "PUT", "/v1/targets/"+esc(iqn)+"/acls/"+esc(initiator), ACLAdd{Initiator: initiator, LUNs: luns})
}

// RemoveACL removes initiator's access to target iqn, ending its sessions
// there.
func (c *Client) RemoveACL(ctx context.Context, iqn, initiator string) (*Result, error) {
	return c.change(ctx, "DELETE", "/v1/targets/"+esc(iqn)+"/acls/"+esc(initiator), nil)
}

// SetALUA sets a target port group's ALUA state.
func (c *Client) SetALUA(ctx context.Context, group uint16, state string) (*Result, error) {
	return c.change(ctx, "PUT", "/v1/alua/"+strconv.Itoa(int(group)), ALUASet{State: state})
}

// AddPortal makes the daemon listen on addr (host:port, IPv6 in brackets)
// in portal group group, which is created if it is new.
func (c *Client) AddPortal(ctx context.Context, group uint16, addr string) (*Result, error) {
	return c.change(ctx, "PUT", "/v1/portals/"+esc(addr), PortalAdd{Group: group})
}

// RemovePortal stops listening on addr, closing the connections that came
// through it; a group left without portals goes too.
func (c *Client) RemovePortal(ctx context.Context, addr string) (*Result, error) {
	return c.change(ctx, "DELETE", "/v1/portals/"+esc(addr), nil)
}
