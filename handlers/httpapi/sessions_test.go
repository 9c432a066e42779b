package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
)

// loginCookie posts a token to /login with extra headers and returns the
// session cookie set.
func loginCookie(t *testing.T, b *browser, token string, header ...string) *http.Cookie {
	t.Helper()
	resp, _ := b.do("POST", "/login", url.Values{"token": {token}}, header...)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie {
			return c
		}
	}
	t.Fatal("no session cookie")
	return nil
}

// withCookie requests path with only the given session cookie.
func (e *env) withCookie(t *testing.T, path, value string) (int, string) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	req.AddCookie(&http.Cookie{Name: SessionCookie, Value: value})
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

// TestTokenSessionIsOpaque: a token login sets an opaque session id, the
// store keeps no token, logout and revocation end the session for anyone
// holding the cookie, and a cookie holding a token is refused.
func TestTokenSessionIsOpaque(t *testing.T) {
	e := newEnv(t)
	e.record(ev(1, audit.UserJoin), ev(2, audit.UserJoin, inProp(audit.Telegram, propB)))
	b := e.browser(t)
	c := loginCookie(t, b, e.tokA)
	raw, _ := base64.RawURLEncoding.DecodeString(c.Value)
	if !strings.HasPrefix(c.Value, sessionPrefix) || strings.Contains(c.Value, e.tokA) || strings.Contains(string(raw), e.tokA) ||
		c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Errorf("session cookie %+v", c)
	}
	err := e.store.ScanKV(nsLinkSessions, nil, func(k, v []byte) error {
		if bytes.Contains(v, []byte(e.tokA)) || bytes.Contains(k, []byte(c.Value)) {
			t.Errorf("the store keeps the token or the session id: %s", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if code, page := e.withCookie(t, "/", c.Value); code != 200 || !strings.Contains(page, pathA) {
		t.Fatalf("the session id does not log in: %d", code)
	}
	// Logout revokes the id, for this browser and any copy of the cookie.
	_, page := b.do("GET", "/", nil)
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no logout form")
	}
	if resp, _ := b.do("POST", "/logout", url.Values{"csrf": {m[1]}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if code, page := e.withCookie(t, "/", c.Value); code != 200 || !strings.Contains(page, `action="/login"`) || strings.Contains(page, pathA) {
		t.Errorf("a logged-out session id still works: %d", code)
	}
	// A cookie holding a token (as before sessions were opaque) is refused.
	for _, v := range []string{base64.RawURLEncoding.EncodeToString([]byte(e.tokA)), base64.RawURLEncoding.EncodeToString([]byte(testOperator))} {
		if _, page := e.withCookie(t, "/", v); !strings.Contains(page, `action="/login"`) {
			t.Errorf("a token in the cookie logs in")
		}
	}
	// Revoking the token ends its sessions.
	c = loginCookie(t, e.browser(t), e.tokB)
	if _, err := e.srv.Tokens().Revoke(context.Background(), audit.Telegram, propB, e.tokB, testAdmin); err != nil {
		t.Fatal(err)
	}
	if _, page := e.withCookie(t, "/", c.Value); !strings.Contains(page, `action="/login"`) {
		t.Error("the session of a revoked token still works")
	}
	// The operator's session works, and not once the operator token changed.
	c = loginCookie(t, e.browser(t), testOperator)
	if _, page := e.withCookie(t, "/", c.Value); !strings.Contains(page, `value="`+pathB+`"`) {
		t.Error("operator session")
	}
	e.srv.opts.OperatorToken = testOperator + "-rotated"
	if _, page := e.withCookie(t, "/", c.Value); !strings.Contains(page, `action="/login"`) {
		t.Error("an operator session outlives the operator token")
	}
	if !strings.Contains(e.get("/metrics", "").String(), `chatwarden_api_auth_failures_total{reason="UNKNOWN_SESSION",surface="cookie"} 5`) {
		t.Error("refused cookies are not counted")
	}
}

// TestTokenSessionsBounded: logging in again and again with one token
// keeps its newest maxTokenSessions sessions and ends the oldest; another
// token's session is not touched.
func TestTokenSessionsBounded(t *testing.T) {
	e := newEnv(t)
	e.record(ev(1, audit.UserJoin), ev(2, audit.UserJoin, inProp(audit.Telegram, propB)))
	other := loginCookie(t, e.browser(t), e.tokB)
	var ids []string
	for range maxTokenSessions + 5 {
		e.clock.Add(time.Second)
		ids = append(ids, loginCookie(t, e.browser(t), e.tokA).Value)
	}
	for i, id := range ids {
		_, page := e.withCookie(t, "/", id)
		ended := strings.Contains(page, `action="/login"`)
		if want := i < 5; ended != want {
			t.Errorf("session %d of %d: ended %v, want %v", i+1, len(ids), ended, want)
		}
	}
	if _, page := e.withCookie(t, "/", other.Value); strings.Contains(page, `action="/login"`) {
		t.Error("another token's session was ended")
	}
	n := 0
	if err := e.store.ScanKV(nsLinkSessions, nil, func(k, v []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != maxTokenSessions+1 {
		t.Errorf("%d sessions stored, want %d", n, maxTokenSessions+1)
	}
}

// TestSessionCookieSecure: the cookie is Secure over TLS, and behind a
// proxy only when the configured header says https.
func TestSessionCookieSecure(t *testing.T) {
	plain := newEnv(t)
	if c := loginCookie(t, plain.browser(t), plain.tokA, "X-Forwarded-Proto", "https"); c.Secure {
		t.Error("Secure from a header that is not trusted")
	}
	tls := httptest.NewTLSServer(plain.srv)
	defer tls.Close()
	b := plain.browser(t)
	cl := *tls.Client()
	cl.CheckRedirect = b.client.CheckRedirect
	b.client = &cl
	b.e = &env{ts: tls}
	if c := loginCookie(t, b, plain.tokA); !c.Secure {
		t.Error("not Secure over TLS")
	}

	for _, tc := range []struct {
		header, name, value string
		secure              bool
	}{
		{"X-Forwarded-Proto", "X-Forwarded-Proto", "https", true},
		{"X-Forwarded-Proto", "X-Forwarded-Proto", "https, http", true},
		{"X-Forwarded-Proto", "X-Forwarded-Proto", "http", false},
		{"X-Forwarded-Proto", "X-Forwarded-Proto", "", false},
		{"Forwarded", "Forwarded", `for=192.0.2.60;proto=https;by=203.0.113.43`, true},
		{"Forwarded", "Forwarded", `for=192.0.2.60;proto=http`, false},
		{"Forwarded", "X-Forwarded-Proto", "https", false},
	} {
		e := newEnv(t, func(o *Options) { o.TrustedProxyHeader = tc.header })
		var header []string
		if tc.value != "" {
			header = []string{tc.name, tc.value}
		}
		if c := loginCookie(t, e.browser(t), e.tokA, header...); c.Secure != tc.secure {
			t.Errorf("trusted %s, sent %s: %q: Secure %v", tc.header, tc.name, tc.value, c.Secure)
		}
	}
}
