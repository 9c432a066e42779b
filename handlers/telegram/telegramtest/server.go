package telegramtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a Server. The zero value is usable.
type Options struct {
	// Token is the bot token the server accepts; requests with another token
	// get 401 Unauthorized. Default "5555555555:AAFakeTokenTelegramTestServer00000000".
	Token string
	// BotUser is the bot account returned by getMe. The default ID is the
	// numeric prefix of Token; default names are "ChatWarden Test" and
	// "chatwarden_test_bot". IsBot is always true.
	BotUser User
	// PrivacyMode mimics BotFather's group privacy: unless the bot is an
	// administrator it only receives commands, replies to its own messages,
	// mentions and service messages from groups. getMe reports
	// can_read_all_group_messages = !PrivacyMode.
	PrivacyMode bool
	// LongPollCap bounds how long getUpdates is held, whatever timeout the
	// bot asks for (Telegram itself caps at 50 s). Default 5 s.
	LongPollCap time.Duration
	// Limits are the pacing limits for sendMessage-class methods.
	Limits Limits
	// StartTime is the initial fake time. Default: the real time at New.
	StartTime time.Time
	// FrozenClock stops the fake clock from following real time; it then
	// moves only with SetNow and Advance.
	FrozenClock bool
	// AllowedUpdates presets the bot's allowed_updates subscription, as if
	// set by an earlier run (Telegram remembers it server-side). Nil means
	// Telegram's default: everything except chat_member, message_reaction
	// and message_reaction_count.
	AllowedUpdates []string
	// WebhookClient posts updates to the webhook. Default: a client with a
	// 10 s timeout.
	WebhookClient *http.Client
	// WebhookRetryDelay is the pause after a failed webhook delivery.
	// Default 50 ms.
	WebhookRetryDelay time.Duration
	// CallbackTimeout is how long (in fake time) a callback query can still
	// be answered. Default 15 s; negative disables expiry.
	CallbackTimeout time.Duration
	// LenientHTML accepts a bare '&' that starts no HTML entity as literal
	// text, which is what Telegram's parser does. By default the server is
	// stricter and rejects it, so that bots escape user content fully.
	LenientHTML bool
	// FirstUpdateID is the update_id of the first update. Default 100000001.
	FirstUpdateID int
	// Logf, if set, receives a line for every API call.
	Logf func(format string, args ...any)
	// Addr is a fixed listen address such as "127.0.0.1:8081" (for a demo
	// command); default: a free loopback port. Like httptest.NewServer, New
	// panics if it cannot listen.
	Addr string
}

const defaultToken = "5555555555:AAFakeTokenTelegramTestServer00000000"

// Server is a fake Telegram Bot API server listening on 127.0.0.1.
type Server struct {
	// URL is the base URL of the server, e.g. http://127.0.0.1:12345.
	URL string

	opts    Options
	ts      *httptest.Server
	token   string
	bot     User
	methods map[string]methodSpec

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every state change
	// updatesPaused keeps getUpdates from returning updates (PauseUpdates).
	updatesPaused bool
	batchSizes    []int // how many updates each getUpdates returned
	closed        chan struct{}
	closeOnce     sync.Once
	wg            sync.WaitGroup
	rng           *rand.Rand

	clockBase   time.Time
	clockAnchor time.Time

	users         map[int64]User
	nextUserID    int64
	chats         map[int64]*chatState
	chatOrder     []int64
	nextGroupID   int64
	nextChannelID int64

	queue        []Update
	nextUpdateID int
	dropped      []DroppedUpdate
	allowed      map[string]bool // nil: Telegram's default subscription
	pollGen      int
	polls        []GetUpdatesCall
	inFlight     int

	webhook    webhookState
	deliveries []WebhookDelivery

	calls      []Call
	faults     []*fault
	violations []RateLimitViolation
	pace       pacer

	callbacks map[string]*callbackState
	commands  map[string][]BotCommand
	scopes    map[string]commandKey
	files     map[string]*storedFile
	nextFile  int
}

// New starts a Server. Close it when done.
func New(opts Options) *Server {
	s := &Server{
		opts:      opts,
		changed:   make(chan struct{}),
		closed:    make(chan struct{}),
		rng:       rand.New(rand.NewPCG(0x7e1e, 0x9a11)),
		users:     map[int64]User{},
		chats:     map[int64]*chatState{},
		callbacks: map[string]*callbackState{},
		commands:  map[string][]BotCommand{},
		scopes:    map[string]commandKey{},
		files:     map[string]*storedFile{},

		nextUserID:    7000000001,
		nextGroupID:   4000000001,
		nextChannelID: 1002000000001,
	}
	s.token = opts.Token
	if s.token == "" {
		s.token = defaultToken
	}
	s.bot = opts.BotUser
	s.bot.IsBot = true
	if s.bot.ID == 0 {
		prefix, _, _ := strings.Cut(s.token, ":")
		id, err := strconv.ParseInt(prefix, 10, 64)
		if err != nil || id <= 0 {
			id = 5555555555
		}
		s.bot.ID = id
	}
	if s.bot.FirstName == "" {
		s.bot.FirstName = "ChatWarden Test"
	}
	if s.bot.Username == "" {
		s.bot.Username = "chatwarden_test_bot"
	}
	s.users[s.bot.ID] = s.bot
	if s.opts.LongPollCap <= 0 {
		s.opts.LongPollCap = 5 * time.Second
	}
	if s.opts.WebhookRetryDelay <= 0 {
		s.opts.WebhookRetryDelay = 50 * time.Millisecond
	}
	if s.opts.WebhookClient == nil {
		s.opts.WebhookClient = &http.Client{Timeout: 10 * time.Second}
	}
	if s.opts.CallbackTimeout == 0 {
		s.opts.CallbackTimeout = 15 * time.Second
	}
	s.nextUpdateID = opts.FirstUpdateID
	if s.nextUpdateID <= 0 {
		s.nextUpdateID = 100000001
	}
	s.clockBase = opts.StartTime
	if s.clockBase.IsZero() {
		s.clockBase = time.Now()
	}
	s.clockAnchor = time.Now()
	if opts.AllowedUpdates != nil {
		s.allowed = resolveAllowed(opts.AllowedUpdates)
	}
	s.pace = newPacer(opts.Limits)
	s.methods = methodTable()

	if opts.Addr == "" {
		s.ts = httptest.NewServer(s)
	} else {
		l, err := net.Listen("tcp", opts.Addr)
		if err != nil {
			panic(fmt.Sprintf("telegramtest: failed to listen on %s: %v", opts.Addr, err))
		}
		s.ts = &httptest.Server{Listener: l, Config: &http.Server{Handler: s}}
		s.ts.Start()
	}
	s.URL = s.ts.URL
	s.wg.Add(1)
	go s.webhookLoop()
	return s
}

// Close releases held long polls, stops webhook delivery and shuts the
// listener down. It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		close(s.closed)
		s.notifyLocked()
		s.mu.Unlock()
		s.ts.Close()
		s.wg.Wait()
	})
}

// Endpoint returns the format string for tgbotapi.NewBotAPIWithAPIEndpoint:
// URL + "/bot%s/%s".
func (s *Server) Endpoint() string { return s.URL + "/bot%s/%s" }

// FileEndpoint returns the format string for file downloads:
// URL + "/file/bot%s/%s".
func (s *Server) FileEndpoint() string { return s.URL + "/file/bot%s/%s" }

// Token returns the bot token the server accepts.
func (s *Server) Token() string { return s.token }

// Bot returns the bot's own user (what getMe answers).
func (s *Server) Bot() User { return s.bot }

// Now returns the fake time used for message dates and time-based rules.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nowLocked()
}

// SetNow sets the fake clock.
func (s *Server) SetNow(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clockBase = t
	s.clockAnchor = time.Now()
	s.notifyLocked()
}

// Advance moves the fake clock forward by d.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clockBase = s.clockBase.Add(d)
	s.notifyLocked()
}

func (s *Server) nowLocked() time.Time {
	if s.opts.FrozenClock {
		return s.clockBase
	}
	return s.clockBase.Add(time.Since(s.clockAnchor))
}

func (s *Server) unixLocked() int64 { return s.nowLocked().Unix() }

// notifyLocked wakes everything waiting for a state change.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// waitFor blocks until cond (evaluated with the lock held) is true, the
// timeout elapses or the server closes.
func (s *Server) waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	s.mu.Lock()
	defer s.mu.Unlock()
	for !cond() {
		remaining := time.Until(deadline)
		if remaining <= 0 || s.isClosed() {
			return false
		}
		ch := s.changed
		s.mu.Unlock()
		t := time.NewTimer(remaining)
		select {
		case <-ch:
		case <-t.C:
		case <-s.closed:
		}
		t.Stop()
		s.mu.Lock()
	}
	return true
}

// randToken returns n random characters from the URL-safe alphabet.
func (s *Server) randToken(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[s.rng.IntN(len(alphabet))]
	}
	return string(b)
}

// ---------------------------------------------------------------------------
// HTTP layer

// File is an uploaded file as received by the server.
type File struct {
	Field    string // form field name, e.g. "document"
	Name     string // file name given by the client
	MimeType string
	Data     []byte
}

// Call records one API request and its outcome.
type Call struct {
	Method      string     // canonical method name, e.g. "sendMessage"
	Params      url.Values // all parameters (query, form, multipart or JSON)
	Files       []File     // uploaded files (multipart)
	Time        time.Time  // real time the request arrived
	OK          bool
	ErrorCode   int // Telegram error_code (HTTP status for non-JSON faults)
	Description string
	RetryAfter  int
	Result      json.RawMessage // the "result" field on success
	// ViaWebhookResponse is set for a method the bot returned in the body
	// of a webhook response instead of calling the API.
	ViaWebhookResponse bool
}

type request struct {
	method     string
	params     url.Values
	files      map[string]File
	httpReq    *http.Request
	viaWebhook bool
}

// apiError is a failed API answer.
type apiError struct {
	code       int
	desc       string
	retryAfter int
	migrateTo  int64
	rawBody    string // non-JSON body (e.g. nginx error page)
}

func errorf(code int, format string, args ...any) *apiError {
	return &apiError{code: code, desc: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *apiError {
	return &apiError{code: 400, desc: "Bad Request: " + fmt.Sprintf(format, args...)}
}

func forbidden(format string, args ...any) *apiError {
	return &apiError{code: 403, desc: "Forbidden: " + fmt.Sprintf(format, args...)}
}

func tooManyRequests(retryAfter int) *apiError {
	if retryAfter < 1 {
		retryAfter = 1
	}
	return &apiError{code: 429, desc: fmt.Sprintf("Too Many Requests: retry after %d", retryAfter), retryAfter: retryAfter}
}

// withDescription is a successful result that also carries a description
// (setWebhook and deleteWebhook answer like that).
type withDescription struct {
	result any
	desc   string
}

type responseParameters struct {
	MigrateToChatID int64 `json:"migrate_to_chat_id,omitempty"`
	RetryAfter      int   `json:"retry_after,omitempty"`
}

type apiResponse struct {
	OK          bool                `json:"ok"`
	Result      json.RawMessage     `json:"result,omitempty"`
	ErrorCode   int                 `json:"error_code,omitempty"`
	Description string              `json:"description,omitempty"`
	Parameters  *responseParameters `json:"parameters,omitempty"`
}

const maxBodyBytes = 64 << 20

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	if rest, ok := strings.CutPrefix(path, "file/bot"); ok {
		s.serveFile(w, rest)
		return
	}
	rest, ok := strings.CutPrefix(path, "bot")
	if !ok {
		writeAPIError(w, errorf(404, "Not Found"))
		return
	}
	token, method, _ := strings.Cut(rest, "/")
	if token != s.token {
		s.record(Call{Method: method, Time: time.Now(), ErrorCode: 401, Description: "Unauthorized"})
		writeAPIError(w, errorf(401, "Unauthorized"))
		return
	}
	spec, ok := s.methods[strings.ToLower(method)]
	if !ok || method == "" {
		s.record(Call{Method: method, Time: time.Now(), ErrorCode: 404, Description: "Not Found"})
		writeAPIError(w, errorf(404, "Not Found"))
		return
	}
	req := &request{method: spec.name, httpReq: r}
	var perr *apiError
	req.params, req.files, perr = parseParams(w, r)
	call := Call{Method: spec.name, Params: req.params, Time: time.Now()}
	for _, f := range req.files {
		call.Files = append(call.Files, f)
	}
	if perr != nil {
		s.finish(w, call, nil, perr)
		return
	}
	if f := s.takeFault(spec.name); f != nil {
		s.finish(w, call, nil, f)
		return
	}
	var result any
	var aerr *apiError
	if spec.name == "getUpdates" {
		result, aerr = s.getUpdates(req)
	} else {
		s.mu.Lock()
		result, aerr = spec.fn(s, req)
		s.mu.Unlock()
	}
	s.finish(w, call, result, aerr)
}

// finish writes the response and records the call.
func (s *Server) finish(w http.ResponseWriter, call Call, result any, aerr *apiError) {
	if aerr != nil {
		call.ErrorCode = aerr.code
		call.Description = aerr.desc
		call.RetryAfter = aerr.retryAfter
		s.record(call)
		writeAPIError(w, aerr)
		return
	}
	raw, desc, err := encodeResult(result)
	if err != nil {
		aerr = errorf(500, "Internal Server Error: %v", err)
		call.ErrorCode, call.Description = aerr.code, aerr.desc
		s.record(call)
		writeAPIError(w, aerr)
		return
	}
	call.OK = true
	call.Result = raw
	call.Description = desc
	s.record(call)
	writeJSON(w, http.StatusOK, apiResponse{OK: true, Result: raw, Description: desc})
}

func encodeResult(result any) (json.RawMessage, string, error) {
	desc := ""
	if wd, ok := result.(withDescription); ok {
		result, desc = wd.result, wd.desc
	}
	raw, err := json.Marshal(result)
	return raw, desc, err
}

func (s *Server) record(c Call) {
	if s.opts.Logf != nil {
		if c.OK {
			s.opts.Logf("telegramtest: %s ok", c.Method)
		} else {
			s.opts.Logf("telegramtest: %s -> %d %s", c.Method, c.ErrorCode, c.Description)
		}
	}
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.notifyLocked()
	s.mu.Unlock()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"ok":false,"error_code":500,"description":"Internal Server Error"}`)
		status = 500
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	if e.rawBody != "" {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(e.code)
		_, _ = io.WriteString(w, e.rawBody)
		return
	}
	resp := apiResponse{ErrorCode: e.code, Description: e.desc}
	if e.retryAfter > 0 || e.migrateTo != 0 {
		resp.Parameters = &responseParameters{RetryAfter: e.retryAfter, MigrateToChatID: e.migrateTo}
	}
	writeJSON(w, e.code, resp)
}

// parseParams merges query, form, multipart and JSON body parameters the
// way the Bot API accepts them.
func parseParams(w http.ResponseWriter, r *http.Request) (url.Values, map[string]File, *apiError) {
	params := url.Values{}
	for k, v := range r.URL.Query() {
		params[k] = append([]string(nil), v...)
	}
	files := map[string]File{}
	if r.Body == nil {
		return params, files, nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	ct, mp, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data":
		if mp["boundary"] == "" {
			return params, files, badRequest("can't parse multipart/form-data request: no boundary")
		}
		if err := r.ParseMultipartForm(maxBodyBytes); err != nil {
			return params, files, badRequest("can't parse multipart/form-data request: %v", err)
		}
		defer func() { _ = r.MultipartForm.RemoveAll() }()
		for k, v := range r.MultipartForm.Value {
			params[k] = append(params[k], v...)
		}
		for field, hs := range r.MultipartForm.File {
			if len(hs) == 0 {
				continue
			}
			h := hs[0]
			f, err := h.Open()
			if err != nil {
				return params, files, badRequest("can't read file %q", field)
			}
			data, err := io.ReadAll(f)
			_ = f.Close()
			if err != nil {
				return params, files, badRequest("can't read file %q", field)
			}
			files[field] = File{Field: field, Name: h.Filename, MimeType: h.Header.Get("Content-Type"), Data: data}
		}
	case "application/json":
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return params, files, badRequest("can't read request body")
		}
		if len(bytes.TrimSpace(body)) == 0 {
			return params, files, nil
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil {
			return params, files, badRequest("can't parse JSON object")
		}
		for k, v := range obj {
			v = bytes.TrimSpace(v)
			switch {
			case string(v) == "null":
			case len(v) > 0 && v[0] == '"':
				var str string
				if err := json.Unmarshal(v, &str); err != nil {
					return params, files, badRequest("can't parse JSON object")
				}
				params.Set(k, str)
			default:
				params.Set(k, string(v))
			}
		}
	default:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return params, files, badRequest("can't read request body")
		}
		if ct == "application/x-www-form-urlencoded" || (ct == "" && len(body) > 0) {
			form, err := url.ParseQuery(string(body))
			if err != nil {
				return params, files, badRequest("can't parse request body")
			}
			for k, v := range form {
				params[k] = append(params[k], v...)
			}
		}
	}
	return params, files, nil
}

// ---------------------------------------------------------------------------
// Accessors and waiting

// Calls returns the recorded calls of method (case-insensitive), or of all
// methods when method is "".
func (s *Server) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.callsLocked(method)
}

func (s *Server) callsLocked(method string) []Call {
	var out []Call
	for _, c := range s.calls {
		if method == "" || strings.EqualFold(c.Method, method) {
			out = append(out, c)
		}
	}
	return out
}

// WaitCalls waits until at least n calls of method were recorded (or the
// timeout elapses) and returns the calls seen.
func (s *Server) WaitCalls(method string, n int, timeout time.Duration) []Call {
	var out []Call
	s.waitFor(timeout, func() bool {
		out = s.callsLocked(method)
		return len(out) >= n
	})
	return out
}

// ---------------------------------------------------------------------------
// Fault injection

type fault struct {
	method    string // lower-case, or "*" for any method
	remaining int
	err       apiError
}

// Inject429 makes the next n calls of method (or of any method when method
// is "*") fail with 429 Too Many Requests and parameters.retry_after.
func (s *Server) Inject429(method string, n int, retryAfter int) {
	s.addFault(method, n, *tooManyRequests(retryAfter))
}

// Inject5xx makes the next n calls of method fail with HTTP status (e.g. 502)
// and an nginx-style HTML error page, as Telegram's front end sends during
// outages. Clients that decode JSON get a decode error, not an API error.
func (s *Server) Inject5xx(method string, n int, status int) {
	text := http.StatusText(status)
	if text == "" {
		text = "Server Error"
	}
	body := fmt.Sprintf("<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n",
		status, text, status, text)
	s.addFault(method, n, apiError{code: status, desc: fmt.Sprintf("%d %s", status, text), rawBody: body})
}

// Inject5xxJSON makes the next n calls of method fail with a JSON error
// body {"ok":false,"error_code":status,"description":"..."}.
func (s *Server) Inject5xxJSON(method string, n int, status int) {
	text := http.StatusText(status)
	if text == "" {
		text = "Server Error"
	}
	s.addFault(method, n, apiError{code: status, desc: text})
}

// InjectError makes the next n calls of method fail with the given
// error_code and description, e.g. 403 "Forbidden: bot was blocked by the user".
func (s *Server) InjectError(method string, n int, code int, description string) {
	s.addFault(method, n, apiError{code: code, desc: description})
}

// FailGetUpdates makes the next n getUpdates calls fail with 502 Bad Gateway
// (nginx HTML body). Note that tgbotapi's GetUpdatesChan sleeps 3 s after
// every failed poll.
func (s *Server) FailGetUpdates(n int) { s.Inject5xx("getUpdates", n, 502) }

func (s *Server) addFault(method string, n int, e apiError) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method: strings.ToLower(method), remaining: n, err: e})
}

func (s *Server) takeFault(method string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	lm := strings.ToLower(method)
	for i, f := range s.faults {
		if f.method != lm && f.method != "*" {
			continue
		}
		f.remaining--
		if f.remaining <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		e := f.err
		return &e
	}
	return nil
}
