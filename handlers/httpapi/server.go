package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/doctor"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

// Feed delivers committed batches of events, in commit order, from one
// goroutine; *recorder.Recorder is one. fn must not block.
type Feed interface {
	Subscribe(fn func(events []*audit.Event))
}

var _ Feed = (*recorder.Recorder)(nil)

// ReadyFunc reports whether a component is ready to serve: nil when it is,
// else why not (for example "gateway disconnected").
type ReadyFunc func(ctx context.Context) error

// Options configures a Server. Store and Recorder are required.
type Options struct {
	Store *store.Store
	// Recorder records token changes and authentication failures; a
	// *recorder.Recorder also serves as Feed and gives the recorder metrics.
	Recorder command.EventRecorder
	// Feed is the live feed of committed events for activities:watch and
	// the event metrics; by default Recorder, when it is a Feed.
	Feed Feed
	// OperatorToken (32 characters or more) may read every property and
	// take backups; empty disables operator access.
	OperatorToken string
	// Tokens checks property tokens; by default command.NewTokens(Store, Recorder).
	Tokens *command.Tokens
	// Metrics is exposed at /metrics; by default NewMetrics().
	Metrics *Metrics
	// Ready lists readiness checks by component name (e.g. "discord");
	// /readyz also checks the store. More can be added with AddReady.
	Ready map[string]ReadyFunc
	// DefaultLocale renders log entries in the viewer for properties
	// without a locale of their own (default "en").
	DefaultLocale string
	// AuthFailureInterval is the least time between two records of
	// authentication failures against one community (default one minute);
	// failures in between are counted in the next record.
	AuthFailureInterval time.Duration
	// AuthFailureBudget bounds the failure records written per minute, all
	// communities together (default DefaultAuthFailureBudget); past it
	// failures keep being counted and are written as the budget refills.
	AuthFailureBudget int
	// Watch tunes activities:watch.
	Watch WatchOptions
	// ScanBudget bounds the records one activities.list request examines
	// when the filters parameter is used (default 10,000); a page may then
	// hold fewer than maxResults items and still have a nextPageToken.
	ScanBudget int
	// TrustedProxyHeader names a header set by a TLS-terminating proxy in
	// front (X-Forwarded-Proto, or Forwarded with proto=): when it says
	// https, the session cookie is Secure; and the client's address is
	// the one the proxy forwarded (forwardedFor). Empty: only a direct TLS
	// connection counts and forwarding headers are ignored. Clients can
	// forge the headers when they can reach the server past the proxy.
	TrustedProxyHeader string
	// BodyReadTimeout bounds the reading of a request body (the viewer's
	// forms; default 10s): a client that sends half a body and waits is
	// cut off then.
	BodyReadTimeout time.Duration
	// ViewerAccess, when set, re-checks during a session started by a
	// login link that its moderator still may read the community's log
	// (View Audit Log or Manage Server on Discord, administrator on
	// Telegram): at most every AccessRecheck (default 5 minutes). A
	// moderator who lost the permission has the session ended.
	ViewerAccess AccessFunc
	// AccessRecheck is the longest a session goes between two checks.
	AccessRecheck time.Duration
	// DiscordOAuth and TelegramLogin, when set, add "Log in with
	// Discord" and Telegram's Login Widget to the login page.
	DiscordOAuth  DiscordOAuth
	TelegramLogin TelegramLogin
	Logger        zerolog.Logger
	Now           func() time.Time
}

// AccessFunc reports whether a user still may read a property's log on its
// platform; err when the platform could not say.
type AccessFunc func(ctx context.Context, p audit.Platform, property, user string) (bool, error)

// WatchOptions tunes the Server-Sent Events feed.
type WatchOptions struct {
	// Buffer is how many events may wait for one slow client (default
	// 1024); a client further behind is disconnected and resumes with
	// Last-Event-ID.
	Buffer int
	// Heartbeat is the interval of keep-alive comments (default 15s).
	Heartbeat time.Duration
	// ReplayWindow: on resume, records up to this long older than the
	// Last-Event-ID record are examined for later commits (events whose
	// platform time is older than their commit, such as updates delivered
	// late). Default 10 minutes.
	ReplayWindow time.Duration
	// MaxReplay caps the records one resume replays (default 100,000);
	// past it the stream answers 410 Gone and the client should page
	// through activities.list instead.
	MaxReplay int
	// WriteTimeout bounds one write to a client (default 30s).
	WriteTimeout time.Duration
	// MaxPerToken caps the streams open at once with one token (the
	// operator's counts as one; default 8), and MaxClients those open in
	// all (default 512); past either, 429 with a sentence saying which.
	MaxPerToken int
	MaxClients  int
}

// Server is the HTTP API, viewer, metrics and health endpoints. It is an
// http.Handler.
type Server struct {
	opts     Options
	store    *store.Store
	rec      command.EventRecorder
	tokens   *command.Tokens
	metrics  *Metrics
	log      zerolog.Logger
	now      func() time.Time
	mux      *http.ServeMux
	hub      *hub
	failures *failureAggregator
	backups  chan struct{} // one slot per online backup in progress
	key      []byte        // keys the viewer's logout form token

	readyMu sync.Mutex
	ready   map[string]ReadyFunc

	closeOnce sync.Once
	done      chan struct{}
}

// New builds a Server.
func New(opts Options) (*Server, error) {
	if opts.Store == nil || opts.Recorder == nil {
		return nil, errors.New("httpapi: Store and Recorder are required")
	}
	if opts.OperatorToken != "" && len(opts.OperatorToken) < 32 {
		return nil, errors.New("httpapi: the operator token must be at least 32 characters")
	}
	if opts.Feed == nil {
		opts.Feed, _ = opts.Recorder.(Feed)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Tokens == nil {
		opts.Tokens = command.NewTokens(opts.Store, opts.Recorder)
		opts.Tokens.Now = opts.Now
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics()
	}
	if opts.DefaultLocale == "" {
		opts.DefaultLocale = "en"
	}
	if opts.AuthFailureInterval <= 0 {
		opts.AuthFailureInterval = time.Minute
	}
	if opts.AuthFailureBudget <= 0 {
		opts.AuthFailureBudget = DefaultAuthFailureBudget
	}
	if opts.ScanBudget <= 0 {
		opts.ScanBudget = 10000
	}
	if opts.AccessRecheck <= 0 {
		opts.AccessRecheck = 5 * time.Minute
	}
	w := &opts.Watch
	if w.Buffer <= 0 {
		w.Buffer = 1024
	}
	if w.Heartbeat <= 0 {
		w.Heartbeat = 15 * time.Second
	}
	if w.ReplayWindow <= 0 {
		w.ReplayWindow = 10 * time.Minute
	}
	if w.MaxReplay <= 0 {
		w.MaxReplay = 100000
	}
	if w.WriteTimeout <= 0 {
		w.WriteTimeout = 30 * time.Second
	}
	if w.MaxPerToken <= 0 {
		w.MaxPerToken = 8
	}
	if w.MaxClients <= 0 {
		w.MaxClients = 512
	}
	if opts.BodyReadTimeout <= 0 {
		opts.BodyReadTimeout = 10 * time.Second
	}
	s := &Server{
		opts:     opts,
		store:    opts.Store,
		rec:      opts.Recorder,
		tokens:   opts.Tokens,
		metrics:  opts.Metrics,
		log:      opts.Logger.With().Str("component", "httpapi").Logger(),
		now:      opts.Now,
		failures: newFailureAggregator(opts.AuthFailureInterval, opts.AuthFailureBudget, opts.Now()),
		backups:  make(chan struct{}, maxBackups),
		key:      make([]byte, 32),
		ready:    make(map[string]ReadyFunc),
		done:     make(chan struct{}),
	}
	if _, err := rand.Read(s.key); err != nil {
		return nil, fmt.Errorf("httpapi: %w", err)
	}
	for name, fn := range opts.Ready {
		s.ready[name] = fn
	}
	if opts.Feed != nil {
		s.hub = newHub(s.metrics)
		opts.Feed.Subscribe(s.hub.publish)
	}
	var stats *recorder.Stats
	if st, ok := opts.Recorder.(interface{ Stats() *recorder.Stats }); ok {
		stats = st.Stats()
	}
	s.metrics.observeRecorder(opts.Feed, stats)
	s.metrics.GaugeFunc(MetricOutboxDepth, "Log-channel deliveries waiting in the outbox, by platform.", []string{"platform"},
		func(emit func(float64, ...string)) {
			for _, sink := range Platforms {
				if n, err := s.store.OutboxDepth(sink); err == nil {
					emit(float64(n), sink)
				}
			}
		})
	s.metrics.GaugeFunc(MetricStoreSize, "Size of the database file in bytes.", nil,
		func(emit func(float64, ...string)) {
			if fi, err := os.Stat(s.store.Path()); err == nil {
				emit(float64(fi.Size()))
			}
		})
	s.metrics.GaugeFunc(MetricStoreFree, "Free bytes (for unprivileged users) on the database's filesystem.", nil,
		func(emit func(float64, ...string)) {
			if free, err := doctor.DiskFree(filepath.Dir(s.store.Path())); err == nil {
				emit(float64(free))
			}
		})
	s.metrics.GaugeFunc(MetricWatchClients, "Open activities:watch streams.", nil,
		func(emit func(float64, ...string)) { emit(float64(s.hub.clients())) })
	s.routes()
	go s.runFailureWriter()
	return s, nil
}

// AddReady adds (or replaces) a readiness check shown by /readyz.
func (s *Server) AddReady(name string, fn ReadyFunc) {
	s.readyMu.Lock()
	s.ready[name] = fn
	s.readyMu.Unlock()
}

// Tokens returns the token manager, for the chat command adapters.
func (s *Server) Tokens() *command.Tokens { return s.tokens }

// Metrics returns the metrics registry.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Close ends every open activities:watch stream and writes the
// authentication failures not yet recorded. Serve calls it when it shuts
// down, since an event stream never becomes idle; call it before closing
// the recorder.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.flushAuthFailures(true)
	})
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /v1/properties/{property}/activities", s.handleList)
	m.HandleFunc("GET /v1/properties/{property}/activities:export", s.handleExport)
	m.HandleFunc("GET /v1/properties/{property}/activities:watch", s.handleWatch)
	m.HandleFunc("POST /v1/properties/{property}/members/{user}", s.handleErase)
	m.HandleFunc("GET /v1/backup", s.handleBackup)
	m.HandleFunc("GET /healthz", s.handleHealthz)
	m.HandleFunc("GET /readyz", s.handleReadyz)
	m.Handle("GET /metrics", s.metrics)
	m.HandleFunc("GET /{$}", s.handleViewer)
	m.HandleFunc("POST /login", s.handleLogin)
	m.HandleFunc("POST /logout", s.handleLogout)
	m.HandleFunc("GET /export", s.handleViewerExport)
	m.HandleFunc("GET /static/viewer.css", s.handleCSS)
	s.viewerRoutes(m)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "", "no such endpoint: %s %s", logField(r.Method), logField(r.URL.Path))
	})
	s.mux = m
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if ip := s.forwardedFor(r); ip != "" {
		r = r.WithContext(context.WithValue(r.Context(), clientKey{}, ip))
	}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
		// The header has arrived (ReadHeaderTimeout); the body gets
		// BodyReadTimeout. Not every ResponseWriter supports deadlines
		// (tests' recorders); the server's own does.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.opts.BodyReadTimeout))
	}
	sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
	s.mux.ServeHTTP(sw, r)
	route := r.Pattern
	if route == "" || route == "/" {
		route = "other"
	}
	d := time.Since(start)
	s.metrics.apiRequest(route, sw.code, d)
	if ev := s.log.Debug(); ev.Enabled() {
		ev.Str("method", logField(r.Method)).Str("path", logField(r.URL.Path)).Int("status", sw.code).
			Dur("took", d).Str("remote", clientIP(r)).Msg("http request")
	}
}

// statusWriter remembers the status code.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// errorBody is the JSON error document of every 4xx and 5xx answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      int    `json:"code"`
	Status    string `json:"status"`
	Message   string `json:"message"`
	Parameter string `json:"parameter,omitempty"`
}

// writeError writes a JSON error; param names the bad query parameter.
func writeError(w http.ResponseWriter, code int, status, param, format string, a ...any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(errorBody{errorDetail{Code: code, Status: status, Message: fmt.Sprintf(format, a...), Parameter: param}})
}

// bufPool holds response buffers: a page is encoded whole, then written
// with its length in one go (no chunked encoding, few syscalls).
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeJSON writes v with status 200.
func writeJSON(w http.ResponseWriter, v any) {
	buf := bufPool.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 1<<20 {
			buf.Reset()
			bufPool.Put(buf)
		}
	}()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		writeError(w, http.StatusInternalServerError, "INTERNAL", "", "encode the answer: %v", err)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.Write(buf.Bytes())
}

// fail answers a request that went wrong: 400 for a ParamError, 500 (with
// the details only in the log) otherwise.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var pe *ParamError
	if errors.As(err, &pe) {
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", pe.Param, "%s", pe.Error())
		return
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away
	}
	s.log.Error().Str("error", audit.Cut(err.Error(), 4*maxLogField)).Str("path", logField(r.URL.Path)).Msg("request failed")
	writeError(w, http.StatusInternalServerError, "INTERNAL", "", "internal error; the server log has the details")
}

// logField cuts a value from a request (a path, a method, a user agent)
// to maxLogField bytes for a log line or an error message: a 500 KB path
// makes a short line.
func logField(s string) string { return audit.Cut(s, maxLogField) }

// clientIP returns the address the request came from: the peer's, or
// the client's as the trusted proxy forwarded it (ServeHTTP, see
// forwardedFor).
func clientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientKey{}).(string); ok {
		return ip
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// clientKey keys the forwarded client address in a request's context.
type clientKey struct{}

// forwardedFor returns the client's address as the proxy in front
// forwarded it, or "" when there is none to trust. Only a configured
// Options.TrustedProxyHeader says a proxy is in front (clients could
// forge the headers if they reached the port directly). With Forwarded,
// the for= of its last element; otherwise X-Forwarded-For's last
// address. The last is the one the proxy in front added: earlier ones
// come from the client or proxies before it, and anyone can write them.
func (s *Server) forwardedFor(r *http.Request) string {
	name := s.opts.TrustedProxyHeader
	if name == "" {
		return ""
	}
	var last string
	if strings.EqualFold(name, "Forwarded") {
		values := r.Header.Values("Forwarded")
		if len(values) == 0 {
			return ""
		}
		elems := strings.Split(values[len(values)-1], ",")
		for _, pair := range strings.Split(elems[len(elems)-1], ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(pair), "=")
			if strings.EqualFold(k, "for") {
				last = strings.Trim(v, `"`)
			}
		}
	} else {
		values := r.Header.Values("X-Forwarded-For")
		if len(values) == 0 {
			return ""
		}
		elems := strings.Split(values[len(values)-1], ",")
		last = strings.TrimSpace(elems[len(elems)-1])
	}
	// "192.0.2.1", "192.0.2.1:4711", "[2001:db8::1]:4711", "2001:db8::1";
	// "unknown" and obfuscated names ("_hidden") are no address.
	if ap, err := netip.ParseAddrPort(last); err == nil {
		return ap.Addr().Unmap().String()
	}
	if a, err := netip.ParseAddr(strings.Trim(last, "[]")); err == nil {
		return a.Unmap().String()
	}
	return ""
}

// maxHeaderBytes bounds a request's line and headers (Go's default is 1 MB).
const maxHeaderBytes = 64 << 10

// Serve listens on addr (host:port) and serves h until ctx ends, then shuts
// down gracefully within five seconds. If h is a *Server its event streams
// are closed at shutdown.
func Serve(ctx context.Context, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("api.listen %s: %w", addr, err)
	}
	return ServeListener(ctx, ln, h)
}

// ServeListener is Serve on an open listener.
func ServeListener(ctx context.Context, ln net.Listener, h http.Handler) error {
	// No ReadTimeout: it would also end event streams and backups. Bodies
	// get Options.BodyReadTimeout from the handler.
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: maxHeaderBytes}
	if s, ok := h.(*Server); ok {
		srv.RegisterOnShutdown(s.Close)
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		<-stopped
		if s, ok := h.(*Server); ok {
			s.Close() // waits for the last failure records
		}
		return nil
	}
	return fmt.Errorf("http api: %w", err)
}
