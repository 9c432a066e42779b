package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// GetUpdatesCall records the parameters of one getUpdates request.
type GetUpdatesCall struct {
	Offset  int
	Limit   int // after clamping to 1..100
	Timeout int // seconds, after clamping to 0..50
	// AllowedUpdates is the list the bot sent, or nil if the parameter was
	// absent or not a JSON list (tgbotapi sends "null" when unset).
	AllowedUpdates []string
	// AllowedUpdatesRaw is the parameter exactly as sent ("" if absent).
	AllowedUpdatesRaw string
	Time              time.Time // real time
}

// DroppedUpdate is an update that was injected but never queued, because
// Telegram would not have sent it to the bot.
type DroppedUpdate struct {
	Update Update
	Reason string
}

// WebhookDelivery records one attempt to POST an update to the webhook.
type WebhookDelivery struct {
	Update     Update
	URL        string
	StatusCode int    // 0 if the request failed
	Err        string // transport error, if any
	Time       time.Time
}

type webhookState struct {
	url              string
	secret           string
	maxConnections   int
	ipAddress        string
	hasCertificate   bool
	lastErrorDate    int64
	lastErrorMessage string
}

// resolveAllowed interprets an allowed_updates list like Telegram: names
// are case-insensitive, unknown names are ignored and a list without any
// known name selects the default subscription (nil).
func resolveAllowed(names []string) map[string]bool {
	known := map[string]bool{}
	for _, k := range allUpdateKinds {
		known[k] = true
	}
	set := map[string]bool{}
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		if known[n] {
			set[n] = true
		}
	}
	if len(set) == 0 {
		return nil
	}
	return set
}

// parseAllowedList decodes the allowed_updates parameter. ok is false when
// the parameter should leave the subscription unchanged (absent, "null",
// not a list of strings).
func parseAllowedList(raw string) ([]string, bool) {
	if strings.TrimSpace(raw) == "" {
		return nil, false
	}
	var list []any
	if err := json.Unmarshal([]byte(raw), &list); err != nil || list == nil {
		return nil, false
	}
	out := make([]string, 0, len(list))
	for _, v := range list {
		str, ok := v.(string)
		if !ok {
			return nil, false
		}
		out = append(out, str)
	}
	return out, true
}

func (s *Server) allowsLocked(kind string) bool {
	if s.allowed == nil {
		return !optInUpdateKinds[kind]
	}
	return s.allowed[kind]
}

// AllowedUpdates returns the bot's current subscription, sorted.
func (s *Server) AllowedUpdates() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, k := range allUpdateKinds {
		if s.allowsLocked(k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// enqueueLocked assigns an update_id and queues u, unless Telegram would not
// send it to the bot, in which case it is recorded as dropped.
func (s *Server) enqueueLocked(u Update) Update {
	kind := u.Kind()
	if reason := s.ineligibleLocked(u, kind); reason != "" {
		s.dropped = append(s.dropped, DroppedUpdate{Update: u, Reason: reason})
		s.notifyLocked()
		return u
	}
	if !s.allowsLocked(kind) {
		s.dropped = append(s.dropped, DroppedUpdate{Update: u, Reason: kind + " is not in allowed_updates"})
		s.notifyLocked()
		return u
	}
	u.UpdateID = s.nextUpdateID
	s.nextUpdateID++
	s.queue = append(s.queue, u)
	s.notifyLocked()
	return u
}

// ineligibleLocked explains why the bot would not receive u ("" if it would).
func (s *Server) ineligibleLocked(u Update, kind string) string {
	if kind == KindMyChatMember || kind == "" {
		return ""
	}
	ch := u.chat()
	if ch == nil {
		return ""
	}
	c := s.chats[ch.ID]
	if c == nil || c.chat.Type == ChatPrivate {
		return ""
	}
	if !s.botMemberLocked(c).IsInChat() {
		return "the bot is not a member of the chat"
	}
	rights, admin := s.botIsAdminLocked(c)
	switch kind {
	case KindChatMember:
		if !admin {
			return "chat_member updates are sent only to administrators"
		}
	case KindChatJoinRequest:
		if !admin || !rights.CanInviteUsers {
			return "chat_join_request updates need the can_invite_users right"
		}
	case KindMessage, KindEditedMessage:
		if s.opts.PrivacyMode && !admin && (c.chat.Type == ChatGroup || c.chat.Type == ChatSupergroup) {
			m := u.Message
			if m == nil {
				m = u.EditedMessage
			}
			if !s.privacyAllows(*m) {
				return "privacy mode is on and the message is not meant for the bot"
			}
		}
	}
	return ""
}

func (s *Server) privacyAllows(m Message) bool {
	if m.IsService() {
		return true
	}
	text := m.Text + m.Caption
	if strings.HasPrefix(text, "/") {
		return true
	}
	if m.ReplyToMessage != nil && m.ReplyToMessage.From != nil && m.ReplyToMessage.From.ID == s.bot.ID {
		return true
	}
	return strings.Contains(strings.ToLower(text), "@"+strings.ToLower(s.bot.Username))
}

// Dropped returns the injected updates the bot was never going to receive
// (not subscribed via allowed_updates, not an admin for chat_member, privacy
// mode, not a member of the chat, ...).
func (s *Server) Dropped() []DroppedUpdate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]DroppedUpdate(nil), s.dropped...)
}

// PendingUpdates returns the queued updates not yet confirmed by an offset
// (or delivered to the webhook).
func (s *Server) PendingUpdates() []Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Update(nil), s.queue...)
}

// WaitUpdatesConsumed waits until every queued update has been confirmed by
// a getUpdates offset or delivered to the webhook.
func (s *Server) WaitUpdatesConsumed(timeout time.Duration) bool {
	return s.waitFor(timeout, func() bool { return len(s.queue) == 0 })
}

// GetUpdatesCalls returns every getUpdates request received, oldest first.
func (s *Server) GetUpdatesCalls() []GetUpdatesCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]GetUpdatesCall(nil), s.polls...)
}

// WaitPolling waits until the bot has made at least n getUpdates requests
// and returns them. Inject updates after the first poll when the bot sets
// allowed_updates: like Telegram, the server drops updates created while the
// subscription excludes them.
func (s *Server) WaitPolling(n int, timeout time.Duration) []GetUpdatesCall {
	var out []GetUpdatesCall
	s.waitFor(timeout, func() bool {
		out = append([]GetUpdatesCall(nil), s.polls...)
		return len(out) >= n
	})
	return out
}

func (s *Server) confirmLocked(offset int) {
	switch {
	case offset > 0:
		i := 0
		for i < len(s.queue) && s.queue[i].UpdateID < offset {
			i++
		}
		if i > 0 {
			s.queue = append([]Update(nil), s.queue[i:]...)
		}
	case offset < 0:
		if k := -offset; len(s.queue) > k {
			s.queue = append([]Update(nil), s.queue[len(s.queue)-k:]...)
		}
	}
}

const (
	webhookConflict = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
	pollConflict    = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)

func clampInt(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// getUpdates implements long polling. It manages the lock itself because
// it blocks.
func (s *Server) getUpdates(req *request) (any, *apiError) {
	p := req.params
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.webhook.url != "" {
		return nil, errorf(409, webhookConflict)
	}
	offset, _ := strconv.Atoi(strings.TrimSpace(p.Get("offset")))
	limit := 100
	if v := strings.TrimSpace(p.Get("limit")); v != "" {
		n, _ := strconv.Atoi(v)
		limit = clampInt(n, 1, 100)
	}
	timeout, _ := strconv.Atoi(strings.TrimSpace(p.Get("timeout")))
	timeout = clampInt(timeout, 0, 50)
	call := GetUpdatesCall{Offset: offset, Limit: limit, Timeout: timeout,
		AllowedUpdatesRaw: p.Get("allowed_updates"), Time: time.Now()}
	if list, ok := parseAllowedList(call.AllowedUpdatesRaw); ok {
		call.AllowedUpdates = list
		s.allowed = resolveAllowed(list)
	}
	s.polls = append(s.polls, call)
	s.confirmLocked(offset)
	s.pollGen++
	gen := s.pollGen
	s.notifyLocked()

	wait := time.Duration(timeout) * time.Second
	if wait > s.opts.LongPollCap {
		wait = s.opts.LongPollCap
	}
	deadline := time.Now().Add(wait)
	ctx := req.httpReq.Context()
	for {
		if gen != s.pollGen {
			return nil, errorf(409, pollConflict)
		}
		if s.webhook.url != "" {
			return nil, errorf(409, webhookConflict)
		}
		if len(s.queue) > 0 && !s.updatesPaused {
			n := min(limit, len(s.queue))
			s.batchSizes = append(s.batchSizes, n)
			return append([]Update(nil), s.queue[:n]...), nil
		}
		remaining := time.Until(deadline)
		if remaining <= 0 || s.isClosed() || ctx.Err() != nil {
			return []Update{}, nil
		}
		ch := s.changed
		s.mu.Unlock()
		t := time.NewTimer(remaining)
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
		case <-s.closed:
		}
		t.Stop()
		s.mu.Lock()
	}
}

// ---------------------------------------------------------------------------
// Webhook

// WebhookDeliveries returns every attempt to deliver an update to the
// webhook, oldest first.
func (s *Server) WebhookDeliveries() []WebhookDelivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]WebhookDelivery(nil), s.deliveries...)
}

func (s *Server) webhookLoop() {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.closed
		cancel()
	}()
	for {
		s.mu.Lock()
		for !s.isClosed() && (s.webhook.url == "" || len(s.queue) == 0) {
			ch := s.changed
			s.mu.Unlock()
			select {
			case <-ch:
			case <-s.closed:
			}
			s.mu.Lock()
		}
		if s.isClosed() {
			s.mu.Unlock()
			return
		}
		u := s.queue[0]
		target, secret := s.webhook.url, s.webhook.secret
		s.mu.Unlock()

		status, ctype, body, err := s.postUpdate(ctx, target, secret, u)

		s.mu.Lock()
		d := WebhookDelivery{Update: u, URL: target, StatusCode: status, Time: time.Now()}
		if err != nil {
			d.Err = err.Error()
		}
		s.deliveries = append(s.deliveries, d)
		if err == nil && status >= 200 && status < 300 {
			if len(s.queue) > 0 && s.queue[0].UpdateID == u.UpdateID {
				s.queue = append([]Update(nil), s.queue[1:]...)
			}
			s.notifyLocked()
			s.mu.Unlock()
			s.handleWebhookReply(ctype, body)
			continue
		}
		s.webhook.lastErrorDate = s.unixLocked()
		if err != nil {
			s.webhook.lastErrorMessage = "Connection refused"
		} else {
			s.webhook.lastErrorMessage = fmt.Sprintf("Wrong response from the webhook: %d %s", status, http.StatusText(status))
		}
		s.notifyLocked()
		s.mu.Unlock()
		t := time.NewTimer(s.opts.WebhookRetryDelay)
		select {
		case <-t.C:
		case <-s.closed:
			t.Stop()
			return
		}
	}
}

func (s *Server) postUpdate(ctx context.Context, target, secret string, u Update) (int, string, []byte, error) {
	payload, err := json.Marshal(u)
	if err != nil {
		return 0, "", nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(payload))
	if err != nil {
		return 0, "", nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	}
	resp, err := s.opts.WebhookClient.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header.Get("Content-Type"), body, nil
}

// handleWebhookReply executes a method the bot put in its webhook response
// ("Making requests when getting updates").
func (s *Server) handleWebhookReply(ctype string, body []byte) {
	if len(bytes.TrimSpace(body)) == 0 {
		return
	}
	ct, _, _ := mime.ParseMediaType(ctype)
	params := url.Values{}
	switch ct {
	case "application/json":
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) != nil {
			return
		}
		for k, v := range obj {
			var str string
			if json.Unmarshal(v, &str) == nil {
				params.Set(k, str)
			} else if string(v) != "null" {
				params.Set(k, string(v))
			}
		}
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return
		}
		params = form
	default:
		return
	}
	method := params.Get("method")
	spec, ok := s.methods[strings.ToLower(method)]
	if !ok || spec.name == "getUpdates" {
		return
	}
	params.Del("method")
	req := &request{method: spec.name, params: params, files: map[string]File{}, viaWebhook: true}
	call := Call{Method: spec.name, Params: params, Time: time.Now(), ViaWebhookResponse: true}
	s.mu.Lock()
	result, aerr := spec.fn(s, req)
	s.mu.Unlock()
	if aerr != nil {
		call.ErrorCode, call.Description = aerr.code, aerr.desc
	} else {
		call.OK = true
		call.Result, call.Description, _ = encodeResult(result)
	}
	s.record(call)
}
