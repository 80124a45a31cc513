package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/halun/halun/internal/config"
)

// SocketName is the admin socket's file name in the data directory.
const SocketName = "halun.sock"

// Routes of the API (Go 1.22 patterns). Names in paths are path-escaped.
//
//	GET    /v1/status                       GET /v1/stats
//	GET    /v1/volumes                      POST /v1/volumes (VolumeAdd)
//	DELETE /v1/volumes/{name}               POST /v1/volumes/{name}/resize (VolumeResize)
//	GET    /v1/targets                      POST /v1/targets (TargetAdd)
//	DELETE /v1/targets/{iqn}
//	PUT    /v1/targets/{iqn}/luns/{lun} (LUNMap)
//	DELETE /v1/targets/{iqn}/luns/{lun}[?initiator=IQN]
//	PUT    /v1/targets/{iqn}/acls/{initiator} (ACLAdd)
//	DELETE /v1/targets/{iqn}/acls/{initiator}
//	GET    /v1/portals                      PUT /v1/alua/{group} (ALUASet)
//	PUT    /v1/portals/{addr} (PortalAdd)   DELETE /v1/portals/{addr}
//	GET    /v1/sessions
//	POST   /v1/reload
func Handler(n Node, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{n: n, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) { reply(w, n.Status()) })
	mux.HandleFunc("GET /v1/stats", func(w http.ResponseWriter, r *http.Request) { reply(w, n.Stats()) })
	mux.HandleFunc("GET /v1/volumes", func(w http.ResponseWriter, r *http.Request) { reply(w, n.Volumes()) })
	mux.HandleFunc("GET /v1/targets", func(w http.ResponseWriter, r *http.Request) { reply(w, n.Targets()) })
	mux.HandleFunc("GET /v1/portals", func(w http.ResponseWriter, r *http.Request) { reply(w, n.Portals()) })
	mux.HandleFunc("GET /v1/sessions", func(w http.ResponseWriter, r *http.Request) { reply(w, n.Sessions()) })
	mux.HandleFunc("POST /v1/reload", h.reload)
	mux.HandleFunc("POST /v1/volumes", h.addVolume)
	mux.HandleFunc("DELETE /v1/volumes/{name}", h.removeVolume)
	mux.HandleFunc("POST /v1/volumes/{name}/resize", h.resizeVolume)
	mux.HandleFunc("POST /v1/targets", h.addTarget)
	mux.HandleFunc("DELETE /v1/targets/{iqn}", h.removeTarget)
	mux.HandleFunc("PUT /v1/targets/{iqn}/luns/{lun}", h.mapLUN)
	mux.HandleFunc("DELETE /v1/targets/{iqn}/luns/{lun}", h.unmapLUN)
	mux.HandleFunc("PUT /v1/targets/{iqn}/acls/{initiator}", h.addACL)
	mux.HandleFunc("DELETE /v1/targets/{iqn}/acls/{initiator}", h.removeACL)
	mux.HandleFunc("PUT /v1/alua/{group}", h.setALUA)
	mux.HandleFunc("PUT /v1/portals/{addr}", h.addPortal)
	mux.HandleFunc("DELETE /v1/portals/{addr}", h.removePortal)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, fmt.Errorf("no API route %s %s", r.Method, r.URL.Path))
	})
	return mux
}

type handler struct {
	n   Node
	log *slog.Logger
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// fail answers with an ErrorBody; config problems become Details.
func fail(w http.ResponseWriter, code int, err error) {
	body := ErrorBody{Error: err.Error()}
	var es config.Errors
	if errors.As(err, &es) {
		body.Error = "invalid config"
		for _, e := range es {
			body.Details = append(body.Details, e.Error())
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(body)
}

// statusOf maps an error to an HTTP status.
func statusOf(err error) int {
	var es config.Errors
	switch {
	case errors.Is(err, config.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, config.ErrExists):
		return http.StatusConflict
	case errors.As(err, &es), errors.Is(err, errBadRequest):
		return http.StatusBadRequest
	}
	return http.StatusUnprocessableEntity
}

var errBadRequest = errors.New("bad request")

func badRequest(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, a...))
}

// decode reads a JSON request body into v, refusing unknown fields.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("request body: %v", err)
	}
	return nil
}

// change runs a config edit and answers with its Result.
func (h *handler) change(w http.ResponseWriter, what string, edit func(*config.Document) error) {
	res, err := h.n.Change(what, edit)
	if err != nil {
		h.log.Info("management change refused", "change", what, "err", err)
		fail(w, statusOf(err), err)
		return
	}
	reply(w, res)
}

func (h *handler) reload(w http.ResponseWriter, r *http.Request) {
	res, err := h.n.Reload()
	if err != nil {
		fail(w, statusOf(err), err)
		return
	}
	reply(w, res)
}

func (h *handler) addVolume(w http.ResponseWriter, r *http.Request) {
	var req VolumeAdd
	if err := decode(r, &req); err != nil {
		fail(w, http.StatusBadRequest, err)
		return
	}
	if req.Name == "" || req.Backend == "" {
		fail(w, http.StatusBadRequest, badRequest("a volume needs a name and a backend"))
		return
	}
	h.change(w, "add volume "+req.Name, func(d *config.Document) error {
		return d.AddVolume(config.VolumeSpec{Name: req.Name, Backend: req.Backend, Path: req.Path, Size: req.Size,
			BlockSize: req.BlockSize, Serial: req.Serial, Thin: req.Thin, ReadOnly: req.ReadOnly, WriteCache: req.WriteCache})
	})
}

func (h *handler) removeVolume(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	h.change(w, "remove volume "+name, func(d *config.Document) error { return d.RemoveVolume(name) })
}

func (h *handler) resizeVolume(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var req VolumeResize
	if err := decode(r, &req); err != nil {
		fail(w, http.StatusBadRequest, err)
		return
	}
	if _, err := config.ParseSize(req.Size); err != nil {
		fail(w, http.StatusBadRequest, badRequest("size: %v", err))
		return
	}
	h.change(w, "resize volume "+name, func(d *config.Document) error { return d.SetVolumeSize(name, req.Size) })
}

func (h *handler) addTarget(w http.ResponseWriter, r *http.Request) {
	var req TargetAdd
	if err := decode(r, &req); err != nil {
		fail(w, http.StatusBadRequest, err)
		return
	}
	if req.IQN == "" {
		fail(w, http.StatusBadRequest, badRequest("a target needs an iqn"))
		return
	}
	if req.AllInitiators == (len(req.Initiators) > 0) {
		fail(w, http.StatusBadRequest, badRequest("say who may log in: every initiator, or a list of initiators (not both)"))
		return
	}
	spec := config.TargetSpec{IQN: req.IQN, Alias: req.Alias, PortalGroups: req.PortalGroups,
		AllInitiators: req.AllInitiators, Initiators: req.Initiators}
	for _, l := range req.LUNs {
		spec.LUNs = append(spec.LUNs, config.LUN{LUN: l.LUN, Volume: l.Volume})
	}
	h.change(w, "add target "+req.IQN, func(d *config.Document) error { return d.AddTarget(spec) })
}

func (h *handler) removeTarget(w http.ResponseWriter, r *http.Request) {
	iqn := r.PathValue("iqn")
	h.change(w, "remove target "+iqn, func(d *config.Document) error { return d.RemoveTarget(iqn) })
}

func lunOf(r *http.Request) (uint16, error) {
	v, err := strconv.ParseUint(r.PathValue("lun"), 10, 16)
	if err != nil || v > config.MaxLUN {
		return 0, badRequest("LUN %q is not a number 0..%d", r.PathValue("lun"), config.MaxLUN)
	}
	return uint16(v), nil
}

func (h *handler) mapLUN(w http.ResponseWriter, r *http.Request) {
	iqn := r.PathValue("iqn")
	lun, err := lunOf(r)
	if err != nil {
		fail(w, http.StatusBadRequest, err)
		return
	}
	var req LUNMap
	if err := decode(r, &req); err != nil {
		fail(w, http.StatusBadRequest, err)
		return
	}
	h.change(w, fmt.Sprintf("map %s LUN %d", iqn, lun), func(d *config.Document) error {
		return d.MapLUN(iqn, req.Initiator, lun, req.Volume)
	})
}

func (h *handler) unmapLUN(w http.ResponseWriter, r *http.Request) {
	iqn := r.PathValue("iqn")
	lun, err := lunOf(r)
	if err != nil {
		fail(w, http.StatusBadRequest, err)
		return
	}
	ini := r.URL.Query().Get("initiator")
	h.change(w, fmt.Sprintf("unmap %s LUN %d", iqn, lun), func(d *config.Document) error {
		return d.UnmapLUN(iqn, ini, lun)
	})
}

func (h *handler) addACL(w http.ResponseWriter, r *http.Request) {
	iqn, ini := r.PathValue("iqn"), r.PathValue("initiator")
	var req ACLAdd
	if r.ContentLength != 0 {
		if err := decode(r, &req); err != nil {
			fail(w, http.StatusBadRequest, err)
			return
		}
	}
	spec := config.ACLSpec{Initiator: ini}
	for _, l := range req.LUNs {
		spec.LUNs = append(spec.LUNs, config.LUN{LUN: l.LUN, Volume: l.Volume})
	}
	h.change(w, fmt.Sprintf("allow %s into %s", ini, iqn), func(d *config.Document) error { return d.AddACL(iqn, spec) })
}

func (h *handler) removeACL(w http.ResponseWriter, r *http.Request) {
	iqn, ini := r.PathValue("iqn"), r.PathValue("initiator")
	h.change(w, fmt.Sprintf("remove %s from %s", ini, iqn), func(d *config.Document) error { return d.RemoveACL(iqn, ini) })
}

func (h *handler) setALUA(w http.ResponseWriter, r *http.Request) {
	g, err := strconv.ParseUint(r.PathValue("group"), 10, 16)
	if err != nil || g == 0 {
		fail(w, http.StatusBadRequest, badRequest("portal group %q is not a number 1..65535", r.PathValue("group")))
		return
	}
	var req ALUASet
	if err := decode(r, &req); err != nil {
		fail(w, http.StatusBadRequest, err)
		return
	}
	res, err := h.n.SetALUA(uint16(g), req.State)
	if err != nil {
		fail(w, statusOf(err), err)
		return
	}
	reply(w, res)
}

// addPortal and removePortal take the address from the path, where the
// client escaped it (IPv6 brackets, a zone's %).
func (h *handler) addPortal(w http.ResponseWriter, r *http.Request) {
	addr := r.PathValue("addr")
	if _, err := config.ParsePortal(addr); err != nil {
		fail(w, http.StatusBadRequest, badRequest("portal: %v", err))
		return
	}
	var req PortalAdd
	if err := decode(r, &req); err != nil {
		fail(w, http.StatusBadRequest, err)
		return
	}
	if req.Group == 0 {
		fail(w, http.StatusBadRequest, badRequest("portal %s: a portal group tag 1..65535 is required", addr))
		return
	}
	res, err := h.n.AddPortal(req.Group, addr)
	h.respond(w, "add portal "+addr, res, err)
}

func (h *handler) removePortal(w http.ResponseWriter, r *http.Request) {
	addr := r.PathValue("addr")
	res, err := h.n.RemovePortal(addr)
	h.respond(w, "remove portal "+addr, res, err)
}

// respond answers with a change's Result, or its error.
func (h *handler) respond(w http.ResponseWriter, what string, res *Result, err error) {
	if err != nil {
		h.log.Info("management change refused", "change", what, "err", err)
		fail(w, statusOf(err), err)
		return
	}
	reply(w, res)
}

// Server is the running admin socket.
type Server struct {
	path string
	ln   net.Listener
	srv  *http.Server
	done chan error
}

// ErrSocketBusy means another daemon answers on the admin socket.
var ErrSocketBusy = errors.New("admin socket is in use by a running halun")

// Listen binds the admin socket at path with mode 0600. A live daemon
// on it is an error (ErrSocketBusy); a stale socket file left by a dead
// one is removed. Anything else at path is left alone and is an error.
func Listen(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("admin socket %s: a file that is not a socket is in the way", path)
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("%s: %w", path, ErrSocketBusy)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("admin socket %s: remove stale socket: %w", path, err)
		}
	}
	// The socket is created with mode 0600 from the start: no window in
	// which another user could connect.
	old := syscall.Umask(0o177)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	return ln, nil
}

// Serve serves the API for n on the Unix socket at path until Close.
// Only root and the daemon's own user may use it: the socket is mode 0600
// and every connection's peer credentials are checked.
func Serve(path string, n Node, log *slog.Logger) (*Server, error) {
	ln, err := Listen(path)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{path: path, ln: ln, done: make(chan error, 1)}
	s.srv = &http.Server{
		Handler:           recoverer(Handler(n, log), log),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	go func() {
		err := s.srv.Serve(peerCheck{ln, log})
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	return s, nil
}

// recoverer answers 500 for a handler that panicked, and logs it as the
// bug it is.
func recoverer(h http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				log.Error("admin API: request panicked", "method", r.Method, "path", r.URL.Path,
					"panic", v, "stack", string(debug.Stack()))
				fail(w, http.StatusInternalServerError, fmt.Errorf("internal error: %v", v))
			}
		}()
		h.ServeHTTP(w, r)
	})
}

// Path is the socket's path.
func (s *Server) Path() string { return s.path }

// Close stops serving, waits up to 5 s for requests in progress and removes
// the socket.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	return errors.Join(err, <-s.done)
}

// peerCheck accepts only connections from root or the daemon's own user.
type peerCheck struct {
	net.Listener
	log *slog.Logger
}

func (p peerCheck) Accept() (net.Conn, error) {
	for {
		c, err := p.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid, ok := peerUID(c)
		if ok && (uid == 0 || uid == uint32(os.Geteuid())) {
			return c, nil
		}
		p.log.Warn("admin socket: refused a connection from another user", "uid", uid)
		c.Close()
	}
}

func peerUID(c net.Conn) (uint32, bool) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return 0, false
	}
	return cred.Uid, true
}
