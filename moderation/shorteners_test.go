package moderation_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/moderation"
)

// shortenerServer plays every shortener (and any other host) on one local
// server: the engine's dialer is pointed at it whatever the host, so the
// requests it gets show which hosts were asked.
type shortenerServer struct {
	srv *httptest.Server
	// routes maps host+path to a Location to redirect to; HEAD on a key
	// in getOnly is refused (405), as some shorteners do.
	routes  map[string]string
	getOnly map[string]bool
	// stall holds requests for host+path until it is closed or the
	// request is cancelled; stalled receives the key when one arrives.
	stall   map[string]chan struct{}
	stalled chan string

	mu       sync.Mutex
	requests []string // "METHOD host/path"
}

func newShortenerServer(t *testing.T) *shortenerServer {
	s := &shortenerServer{routes: map[string]string{}, getOnly: map[string]bool{},
		stall: map[string]chan struct{}{}, stalled: make(chan string, 16)}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Host + r.URL.Path
		s.mu.Lock()
		s.requests = append(s.requests, r.Method+" "+key)
		s.mu.Unlock()
		if c, ok := s.stall[key]; ok {
			s.stalled <- key
			select {
			case <-c:
			case <-r.Context().Done():
				return
			}
		}
		if r.Method == http.MethodHead && s.getOnly[key] {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		if r.Header.Get("Cookie") != "" {
			t.Errorf("a cookie was sent to %s", key)
		}
		loc, ok := s.routes[key]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "track", Value: "1"})
		w.Header().Set("Location", loc)
		w.WriteHeader(http.StatusMovedPermanently)
		w.Write([]byte(strings.Repeat("body never read ", 1000)))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *shortenerServer) requested() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// options returns engine options that send every connection to the local
// server and allow its address, 127.0.0.1, only.
func (s *shortenerServer) options(timeout time.Duration) func(*moderation.Options) {
	return func(o *moderation.Options) {
		o.Shorteners.Timeout = timeout
		o.Shorteners.AllowAddr = func(a netip.Addr) bool { return a == netip.MustParseAddr("127.0.0.1") }
		o.Shorteners.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, s.srv.Listener.Addr().String())
		}
	}
}

// debugLog sends the engine's log, debug included, to the returned
// buffer.
func debugLog(buf *syncBuffer) func(*moderation.Options) {
	return func(o *moderation.Options) { o.Logger = zerolog.New(buf).Level(zerolog.DebugLevel) }
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func shortenerDefaults() moderation.Defaults {
	d := moderation.BuiltinDefaults()
	d.LinkFilter.Denylist = []string{"free-nitro.gift"}
	d.LinkFilter.ResolveShorteners = true
	return d
}

func TestShortenedPhishingCaughtBenignKept(t *testing.T) {
	s := newShortenerServer(t)
	s.routes["bit.ly/phish"] = "http://tinyurl.com/next"           // one shortener to another
	s.routes["tinyurl.com/next"] = "https://free-nitro.gift/claim" // listed
	s.routes["rb.gy/look"] = "https://discord-nitro.com/gift"      // a look-alike
	s.routes["bit.ly/meetup"] = "https://example.org/notes"
	s.routes["cutt.ly/nohead"] = "/relative" // resolved against cutt.ly: itself a shortener
	s.routes["cutt.ly/relative"] = "https://free-nitro.gift/x"
	s.getOnly["cutt.ly/nohead"] = true
	ev := newEnv(t, shortenerDefaults(), s.options(time.Minute))

	phish := ev.message("u1", "free nitro http://bit.ly/phish")
	look := ev.message("u2", "rb.gy/look")
	benign := ev.message("u3", "notes: https://bit.ly/meetup see you")
	nohead := ev.message("u4", "http://cutt.ly/nohead")
	ev.feed(phish, look, benign, nohead)

	deleted := map[string]bool{}
	for _, c := range ev.acts.Calls("DeleteMessage") {
		deleted[c.Message] = true
	}
	if !deleted[phish.MessageID] || !deleted[look.MessageID] || !deleted[nohead.MessageID] || deleted[benign.MessageID] {
		t.Errorf("deleted %v; want the phishing, look-alike and GET-only ones, not the benign one", deleted)
	}
	recs := map[string]*audit.Event{}
	for _, r := range ev.records(audit.ModerationLink) {
		recs[r.MessageID] = r
	}
	want := map[string]string{
		audit.ParamURL: "http://bit.ly/phish", audit.ParamDomain: "free-nitro.gift",
		moderation.ParamResolvedURL: "https://free-nitro.gift/claim",
		moderation.ParamResolvedVia: "http://bit.ly/phish http://tinyurl.com/next",
		audit.ParamRule:             moderation.RuleDenylist, moderation.ParamMatched: "free-nitro.gift",
	}
	for k, v := range want {
		if r := recs[phish.MessageID]; r == nil || r.Params.Get(k) != v {
			t.Errorf("MODERATION_LINK of the phishing link: %s = %q, want %q", k, r.Params.Get(k), v)
		}
	}
	if r := recs[look.MessageID]; r == nil || r.Params.Get(audit.ParamRule) != moderation.RuleLookalike ||
		r.Params.Get(moderation.ParamMatched) != "discord.com" {
		t.Errorf("MODERATION_LINK of the look-alike: %+v", r)
	}
	// Hosts off the shorteners are judged, never requested; GET only
	// where HEAD was refused.
	for _, req := range s.requested() {
		host := strings.Fields(req)[1]
		if !moderation.IsShortener(host[:strings.IndexByte(host, '/')]) {
			t.Errorf("requested %s, not a shortener", req)
		}
		if strings.HasPrefix(req, "GET ") && req != "GET cutt.ly/nohead" {
			t.Errorf("%s: GET where HEAD redirected", req)
		}
	}
	if got := s.requested(); !contains(got, "GET cutt.ly/nohead") || !contains(got, "HEAD cutt.ly/relative") {
		t.Errorf("requests = %v", got)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Loops, chains longer than 5 redirects, slow shorteners and refused
// addresses leave the message alone, and the debug log says why; a chain
// of exactly 5 redirects is followed.
func TestShortenerFailuresLeaveMessageAlone(t *testing.T) {
	s := newShortenerServer(t)
	s.routes["bit.ly/loop"] = "http://tinyurl.com/loop"
	s.routes["tinyurl.com/loop"] = "http://bit.ly/loop"
	hosts := []string{"bit.ly", "is.gd", "v.gd", "rb.gy", "t.co", "ow.ly", "s.id"}
	for i := 0; i < 6; i++ { // six redirects: bit.ly/h6 ... s.id/h6
		s.routes[hosts[i]+"/h6"] = "http://" + hosts[i+1] + "/h6"
	}
	s.routes["s.id/h6"] = "https://free-nitro.gift/"
	for i := 0; i < 4; i++ { // five redirects: bit.ly/h5 ... ow.ly/h5
		s.routes[hosts[i]+"/h5"] = "http://" + hosts[i+1] + "/h5"
	}
	s.routes["t.co/h5"] = "https://free-nitro.gift/"
	s.stall["goo.gl/slow"] = make(chan struct{}) // never released: the request times out
	s.routes["goo.gl/slow"] = "https://free-nitro.gift/"
	var logs syncBuffer
	ev := newEnv(t, shortenerDefaults(), s.options(300*time.Millisecond), debugLog(&logs))

	loop := ev.message("u1", "http://bit.ly/loop")
	six := ev.message("u2", "http://bit.ly/h6")
	five := ev.message("u3", "http://bit.ly/h5")
	slow := ev.message("u4", "http://goo.gl/slow")
	// Links that fail do not hide one that does not.
	mixed := ev.message("u5", "http://goo.gl/slow http://bit.ly/loop and http://t.co/h5")
	ev.feed(loop, six, five, slow, mixed)

	dels := ev.acts.Calls("DeleteMessage")
	if len(dels) != 2 || dels[0].Message != five.MessageID || dels[1].Message != mixed.MessageID {
		t.Errorf("delete calls = %+v, want the five-redirect chain's and the mixed message", dels)
	}
	if got := s.requested(); contains(got, "HEAD s.id/h6") || contains(got, "GET s.id/h6") {
		t.Errorf("the sixth redirect was followed: %v", got)
	}
	for _, why := range []string{"redirect loop", "too many redirects", "timed out after 300ms"} {
		if !strings.Contains(logs.String(), why) {
			t.Errorf("no debug line says %q:\n%s", why, logs.String())
		}
	}
	if n := strings.Count(logs.String(), "shortened link not resolved; left alone"); n != 5 {
		t.Errorf("%d debug lines say a link was left alone, want 5:\n%s", n, logs.String())
	}
}

// Without the test's address check the local server is refused: the
// default check allows public addresses only.
func TestShortenerRefusesLoopback(t *testing.T) {
	s := newShortenerServer(t)
	s.routes["bit.ly/phish"] = "https://free-nitro.gift/"
	var logs syncBuffer
	opts := s.options(time.Minute)
	ev := newEnv(t, shortenerDefaults(), func(o *moderation.Options) {
		opts(o)
		o.Shorteners.AllowAddr = nil
	}, debugLog(&logs))
	ev.feed(ev.message("u1", "http://bit.ly/phish"))
	if dels := ev.acts.Calls("DeleteMessage"); len(dels) != 0 {
		t.Errorf("deleted through a refused address: %+v", dels)
	}
	if !strings.Contains(logs.String(), "address not allowed") {
		t.Errorf("no debug line says the address was refused:\n%s", logs.String())
	}
	for _, a := range []string{"127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "::1", "fe80::1", "fd00::1",
		"100.64.0.1", "0.0.0.0", "::ffff:127.0.0.1", "224.0.0.1"} {
		if moderation.PublicAddr(netip.MustParseAddr(a)) {
			t.Errorf("PublicAddr(%s) = true", a)
		}
	}
	for _, a := range []string{"67.199.248.10", "2606:4700::6810:84e5"} {
		if !moderation.PublicAddr(netip.MustParseAddr(a)) {
			t.Errorf("PublicAddr(%s) = false", a)
		}
	}
}

// A link resolved once is not requested again; with the setting off,
// nothing is requested.
func TestShortenerCacheAndSetting(t *testing.T) {
	s := newShortenerServer(t)
	s.routes["bit.ly/phish"] = "https://free-nitro.gift/"
	ev := newEnv(t, shortenerDefaults(), s.options(time.Minute))
	first, again := ev.message("u1", "http://bit.ly/phish"), ev.message("u2", "look http://bit.ly/phish")
	ev.feed(first)
	ev.feed(again)
	if dels := ev.acts.Calls("DeleteMessage"); len(dels) != 2 {
		t.Errorf("delete calls = %+v, want both messages", dels)
	}
	if got := s.requested(); len(got) != 1 || got[0] != "HEAD bit.ly/phish" {
		t.Errorf("requests = %v, want one HEAD", got)
	}
	// After the cache's time to live (1 h), the link is asked again.
	ev.clock.Advance(time.Hour + time.Second)
	ev.feed(ev.message("u3", "http://bit.ly/phish"))
	if got := s.requested(); len(got) != 2 || len(ev.acts.Calls("DeleteMessage")) != 3 {
		t.Errorf("after an hour: requests %v, deletes %d", got, len(ev.acts.Calls("DeleteMessage")))
	}

	s2 := newShortenerServer(t)
	s2.routes["bit.ly/phish"] = "https://free-nitro.gift/"
	d := shortenerDefaults()
	d.LinkFilter.ResolveShorteners = false
	off := newEnv(t, d, s2.options(time.Minute))
	off.feed(off.message("u1", "http://bit.ly/phish"))
	if got := s2.requested(); len(got) != 0 || len(off.acts.Calls("DeleteMessage")) != 0 {
		t.Errorf("setting off: requests %v, deletes %+v", got, off.acts.Calls("DeleteMessage"))
	}
}

// A shortener that does not answer holds up its own community's queue
// only: another community's link is judged meanwhile.
func TestShortenerDoesNotBlockOtherCommunities(t *testing.T) {
	s := newShortenerServer(t)
	release := make(chan struct{})
	s.stall["bit.ly/stall"] = release
	s.routes["bit.ly/stall"] = "https://free-nitro.gift/"
	ev := newEnv(t, shortenerDefaults(), s.options(time.Minute))
	ctx := context.Background()

	stalled := ev.message("u1", "http://bit.ly/stall")
	if err := ev.eng.Handle(ctx, stalled); err != nil {
		t.Fatal(err)
	}
	<-s.stalled // the first community's job waits on the shortener
	other := ev.message("u2", "https://free-nitro.gift/x")
	other.PropertyID = "900000000000000002"
	if err := ev.eng.Handle(ctx, other); err != nil {
		t.Fatal(err)
	}
	ev.eventually("the other community's message deleted", func() bool {
		return len(ev.acts.Calls("DeleteMessage")) == 1
	})
	if dels := ev.acts.Calls("DeleteMessage"); dels[0].Message != other.MessageID {
		t.Errorf("deleted %+v first, want the other community's message", dels)
	}
	close(release)
	ev.flush()
	if dels := ev.acts.Calls("DeleteMessage"); len(dels) != 2 || dels[1].Message != stalled.MessageID {
		t.Errorf("delete calls = %+v, want the stalled one once resolved", dels)
	}
}
