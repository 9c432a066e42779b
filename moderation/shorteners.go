package moderation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chatwarden/chatwarden/clock"
)

// shorteners are the URL shorteners whose links the link filter follows
// when link_filter.resolve_shorteners is on (see IsShortener). A link on
// one of them (or on its www. subdomain) is resolved; a redirect is
// followed only while it leads to another of them.
var shorteners = []string{
	"bit.ly", "bitly.com", "j.mp", "tinyurl.com", "t.co", "cutt.ly", "is.gd", "v.gd", "rb.gy", "clck.ru",
	"goo.gl", "ow.ly", "buff.ly", "shorturl.at", "tiny.cc", "s.id", "t.ly", "rebrand.ly", "bl.ink",
	"lnkd.in", "dlvr.it", "u.to", "x.gd", "surl.li", "vk.cc", "gg.gg", "tny.im", "qps.ru", "shorturl.gg",
	"tiny.one", "rotf.lol", "urlz.fr",
}

var shortenerSet = func() map[string]bool {
	m := make(map[string]bool, len(shorteners))
	for _, s := range shorteners {
		m[s] = true
	}
	return m
}()

// IsShortener reports whether host (canonical: lower case, punycode) is
// a known URL shortener.
func IsShortener(host string) bool {
	return shortenerSet[host] || strings.HasPrefix(host, "www.") && shortenerSet[host[4:]]
}

// ShortenerOptions tune how links on URL shorteners are followed
// (link_filter.resolve_shorteners). The zero value is the production
// setting.
type ShortenerOptions struct {
	// Timeout bounds one link's resolution, every hop included (default
	// 3s). Tests shorten it.
	Timeout time.Duration
	// MaxRedirects is how many redirects are followed (default 5).
	MaxRedirects int
	// CacheSize bounds the resolutions remembered, by URL (default 4096);
	// CacheTTL is how long one is reused (default 1h). A failure is
	// remembered for a minute at most, so that a flood of one dead link
	// does not wait on it for every message.
	CacheSize int
	CacheTTL  time.Duration
	// AllowAddr reports whether the resolver may connect to an address.
	// The default refuses private, loopback, link-local, multicast,
	// unspecified and reserved addresses, so that a link cannot make the
	// bot reach into its own network. Tests allow 127.0.0.1.
	AllowAddr func(netip.Addr) bool
	// Dial connects to a shortener; by default a net.Dialer that checks
	// each address with AllowAddr before connecting. Tests point it at a
	// local server. The address connected to is checked either way.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Resolution is where a shortened link leads.
type Resolution struct {
	// Final is the first URL of the chain not on a known shortener. It
	// was not requested.
	Final string
	// Via are the shortener URLs requested, in order, the link first.
	Via []string
}

// Errors of a resolution; the message is then left alone.
var (
	ErrTooManyRedirects = errors.New("too many redirects")
	ErrRedirectLoop     = errors.New("redirect loop")
	ErrNotRedirected    = errors.New("the shortener did not redirect")
	ErrAddressRefused   = errors.New("address not allowed")
)

// resolver follows links on URL shorteners: HEAD (GET when HEAD is
// refused), bodies never read, no cookies, one redirect at a time, and
// only while the next hop is itself on a known shortener.
type resolver struct {
	opts   ShortenerOptions
	clock  clock.Clock
	client *http.Client

	mu       sync.Mutex
	cache    map[string]resolved
	inflight map[string]*resolveCall
}

type resolved struct {
	res     Resolution
	err     error
	expires time.Time
}

type resolveCall struct {
	done chan struct{}
	res  Resolution
	err  error
}

func newResolver(opts ShortenerOptions, clk clock.Clock) *resolver {
	if opts.Timeout <= 0 {
		opts.Timeout = 3 * time.Second
	}
	if opts.MaxRedirects <= 0 {
		opts.MaxRedirects = 5
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 4096
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = time.Hour
	}
	if opts.AllowAddr == nil {
		opts.AllowAddr = PublicAddr
	}
	r := &resolver{opts: opts, clock: clk, cache: make(map[string]resolved), inflight: make(map[string]*resolveCall)}
	tr := &http.Transport{
		Proxy:                  nil, // straight to the shortener: the address check must see where it connects
		DialContext:            r.dial,
		ForceAttemptHTTP2:      true,
		DisableCompression:     true,
		MaxIdleConns:           16,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        30 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		// Every hop is bounded by the resolution's context (Timeout).
	}
	r.client = &http.Client{
		Transport: tr,
		// Redirects are followed one by one by resolve, which checks each.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		// No Jar: no cookies are kept or sent.
	}
	return r
}

// dial connects to a shortener, refusing addresses AllowAddr refuses:
// before connecting with the default dialer, and after with any.
func (r *resolver) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	dial := r.opts.Dial
	if dial == nil {
		d := &net.Dialer{Timeout: r.opts.Timeout, Control: func(_, address string, _ syscall.RawConn) error {
			return r.checkAddr(address)
		}}
		dial = d.DialContext
	}
	conn, err := dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if err := r.checkAddr(conn.RemoteAddr().String()); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

func (r *resolver) checkAddr(address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %q: %v", ErrAddressRefused, address, err)
	}
	if !r.opts.AllowAddr(ap.Addr().Unmap()) {
		return fmt.Errorf("%w: %s", ErrAddressRefused, ap.Addr())
	}
	return nil
}

// reserved are ranges no shortener is on, besides those netip names.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2001:db8::/32"),
}

// PublicAddr reports whether a is a public unicast address: not private,
// loopback, link-local, multicast, unspecified or reserved. It is the
// resolver's default address check.
func PublicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || !a.IsGlobalUnicast() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() {
		return false
	}
	for _, p := range reserved {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// followable reports whether u is a URL the resolver may request: http or
// https on a known shortener, on the default port, with no user info.
func followable(u *url.URL) bool {
	if u.Scheme != "http" && u.Scheme != "https" || u.User != nil {
		return false
	}
	if p := u.Port(); p != "" && !(p == "80" && u.Scheme == "http" || p == "443" && u.Scheme == "https") {
		return false
	}
	return IsShortener(strings.TrimSuffix(strings.ToLower(u.Hostname()), "."))
}

// resolve returns where the shortened link rawURL leads, from the cache
// when it was resolved within CacheTTL. Concurrent resolutions of one URL
// make one set of requests.
func (r *resolver) resolve(ctx context.Context, rawURL string) (Resolution, error) {
	now := r.clock.Now()
	r.mu.Lock()
	if c, ok := r.cache[rawURL]; ok && now.Before(c.expires) {
		r.mu.Unlock()
		return c.res, c.err
	}
	if call, ok := r.inflight[rawURL]; ok {
		r.mu.Unlock()
		select {
		case <-call.done:
			return call.res, call.err
		case <-ctx.Done():
			return Resolution{}, fmt.Errorf("resolve %s: %w", rawURL, ctx.Err())
		}
	}
	call := &resolveCall{done: make(chan struct{})}
	r.inflight[rawURL] = call
	r.mu.Unlock()

	call.res, call.err = r.follow(ctx, rawURL)

	ttl := r.opts.CacheTTL
	if call.err != nil {
		ttl = min(ttl, time.Minute)
	}
	r.mu.Lock()
	delete(r.inflight, rawURL)
	r.remember(rawURL, resolved{res: call.res, err: call.err, expires: r.clock.Now().Add(ttl)})
	r.mu.Unlock()
	close(call.done)
	return call.res, call.err
}

// remember caches a resolution, making room if the cache is full:
// expired entries go first, then any. The caller holds r.mu.
func (r *resolver) remember(key string, c resolved) {
	if len(r.cache) >= r.opts.CacheSize {
		now := r.clock.Now()
		for k, old := range r.cache {
			if !now.Before(old.expires) {
				delete(r.cache, k)
			}
		}
		for k := range r.cache {
			if len(r.cache) < r.opts.CacheSize {
				break
			}
			delete(r.cache, k)
		}
	}
	r.cache[key] = c
}

// follow requests rawURL and the shortener URLs it redirects to, until a
// redirect leads off the known shorteners, within Timeout and
// MaxRedirects.
func (r *resolver) follow(ctx context.Context, rawURL string) (Resolution, error) {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	cur, err := url.Parse(rawURL)
	if err != nil {
		return Resolution{}, fmt.Errorf("resolve %s: %w", rawURL, err)
	}
	if !followable(cur) {
		return Resolution{}, fmt.Errorf("resolve %s: not a shortener URL", rawURL)
	}
	var res Resolution
	seen := map[string]bool{cur.String(): true}
	for redirects := 0; ; {
		res.Via = append(res.Via, cur.String())
		loc, err := r.hop(ctx, cur.String())
		if err != nil {
			if ctx.Err() != nil {
				return res, fmt.Errorf("resolve %s: timed out after %s: %w", rawURL, r.opts.Timeout, err)
			}
			return res, fmt.Errorf("resolve %s: %w", rawURL, err)
		}
		if loc == "" {
			return res, fmt.Errorf("resolve %s: %s: %w", rawURL, cur, ErrNotRedirected)
		}
		redirects++
		next, err := cur.Parse(loc)
		if err != nil {
			return res, fmt.Errorf("resolve %s: bad Location %q: %w", rawURL, loc, err)
		}
		if !followable(next) {
			res.Final = next.String()
			return res, nil
		}
		if redirects >= r.opts.MaxRedirects {
			return res, fmt.Errorf("resolve %s: %w (%d)", rawURL, ErrTooManyRedirects, redirects)
		}
		if seen[next.String()] {
			return res, fmt.Errorf("resolve %s: %w at %s", rawURL, ErrRedirectLoop, next)
		}
		seen[next.String()] = true
		cur = next
	}
}

// hop requests u with HEAD, or with GET when HEAD does not redirect (some
// shorteners refuse HEAD), and returns its redirect's Location, or "".
// Bodies are closed unread.
func (r *resolver) hop(ctx context.Context, u string) (string, error) {
	for _, method := range []string{http.MethodHead, http.MethodGet} {
		req, err := http.NewRequestWithContext(ctx, method, u, nil)
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", method, u, err)
		}
		req.Header.Set("User-Agent", "Mozilla/5.0 (compatible; chatwarden link check)")
		resp, err := r.client.Do(req)
		if err != nil {
			return "", fmt.Errorf("%s %s: %w", method, u, err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); loc != "" && isRedirect(resp.StatusCode) {
			return loc, nil
		}
	}
	return "", nil
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}
