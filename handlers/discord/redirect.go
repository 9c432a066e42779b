package discord

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/bwmarrin/discordgo"
)

// redirect sends discordgo's REST calls to another base URL (a proxy, or a
// fake in tests) by rewriting each request, so nothing global changes.
type redirect struct {
	from string   // discordgo.EndpointAPI
	to   *url.URL // the configured base, path without trailing slash
	next http.RoundTripper
}

func newRedirect(apiURL string, next http.RoundTripper) (*redirect, error) {
	u, err := url.Parse(strings.TrimSuffix(apiURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("discord: api_url %q is not an http(s) URL", apiURL)
	}
	if next == nil {
		next = http.DefaultTransport
	}
	return &redirect{from: discordgo.EndpointAPI, to: u, next: next}, nil
}

func (r *redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	full := req.URL.String()
	if !strings.HasPrefix(full, r.from) {
		return r.next.RoundTrip(req)
	}
	rest := strings.TrimPrefix(full, r.from)
	u, err := url.Parse(r.to.String() + "/" + rest)
	if err != nil {
		return nil, fmt.Errorf("discord: redirect %s: %w", req.URL.Path, err)
	}
	out := req.Clone(req.Context())
	out.URL = u
	out.Host = u.Host
	return r.next.RoundTrip(out)
}
