package telegramtest

import (
	"net"
	"net/url"
	"strings"
)

// ---------------------------------------------------------------------------
// Webhook

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *Server) mSetWebhook(r *request) (any, *apiError) {
	raw := strings.TrimSpace(r.str("url"))
	if raw == "" {
		return s.mDeleteWebhook(r)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, badRequest("bad webhook: Failed to resolve host: Name or service not known")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		// Telegram requires HTTPS; plain HTTP is accepted for loopback
		// test servers only.
	default:
		return nil, badRequest("bad webhook: An HTTPS URL must be provided for webhook")
	}
	secret := r.str("secret_token")
	if secret != "" && !reSecretToken.MatchString(secret) {
		return nil, badRequest("bad webhook: secret token contains unallowed characters")
	}
	maxConn := 40
	if v, ok := r.int64Param("max_connections"); ok {
		maxConn = clampInt(int(v), 1, 100)
	}
	if list, ok := parseAllowedList(r.str("allowed_updates")); ok {
		s.allowed = resolveAllowed(list)
	}
	if r.boolean("drop_pending_updates") {
		s.queue = nil
	}
	same := s.webhook.url == raw && s.webhook.secret == secret
	s.webhook = webhookState{url: raw, secret: secret, maxConnections: maxConn,
		ipAddress: "127.0.0.1", hasCertificate: r.files["certificate"].Data != nil}
	s.pollGen++ // a held getUpdates ends with 409
	s.notifyLocked()
	if same {
		return withDescription{true, "Webhook is already set"}, nil
	}
	return withDescription{true, "Webhook was set"}, nil
}

func (s *Server) mDeleteWebhook(r *request) (any, *apiError) {
	if r.boolean("drop_pending_updates") {
		s.queue = nil
	}
	was := s.webhook.url != ""
	s.webhook = webhookState{}
	s.notifyLocked()
	if !was {
		return withDescription{true, "Webhook is already deleted"}, nil
	}
	return withDescription{true, "Webhook was deleted"}, nil
}

func (s *Server) mGetWebhookInfo(*request) (any, *apiError) {
	out := map[string]any{"url": s.webhook.url, "has_custom_certificate": s.webhook.hasCertificate,
		"pending_update_count": len(s.queue)}
	if s.webhook.url == "" {
		return out, nil
	}
	out["max_connections"] = s.webhook.maxConnections
	out["ip_address"] = s.webhook.ipAddress
	if s.webhook.lastErrorDate != 0 {
		out["last_error_date"] = s.webhook.lastErrorDate
		out["last_error_message"] = s.webhook.lastErrorMessage
	}
	if s.allowed != nil {
		var list []string
		for _, k := range allUpdateKinds {
			if s.allowed[k] {
				list = append(list, k)
			}
		}
		out["allowed_updates"] = list
	}
	return out, nil
}
