package moderation

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/platform"
	"github.com/chatwarden/chatwarden/recorder"
)

// What an Integration is, in params.integration.
const (
	IntegrationBot     = "BOT"         // a bot account joined or was added
	IntegrationWebhook = "WEBHOOK"     // a webhook was created (Discord)
	IntegrationApp     = "INTEGRATION" // an integration or app was added (Discord)
)

// Integration is a bot, webhook or integration added to a property, as a
// platform reports it outside USER_JOIN (the Discord audit log's
// WEBHOOK_CREATE, INTEGRATION_CREATE, BOT_ADD; Telegram's "bot added"
// service message if the handler does not record it as USER_JOIN).
type Integration struct {
	Platform audit.Platform
	Property string
	Kind     string // Integration*
	ID       string // the bot's user id, the webhook's or integration's id
	Name     string
	// AddedBy and AddedByName name who added it, when known.
	AddedBy, AddedByName string
	ChannelID            string
	Time                 time.Time
}

// OnIntegration reports a bot, webhook or integration added to a
// property. The check is queued like Handle's; a bot reported both here
// and by a USER_JOIN is recorded once.
func (e *Engine) OnIntegration(ctx context.Context, in Integration) error {
	if !in.Platform.Valid() || in.Property == "" || in.ID == "" {
		return fmt.Errorf("moderation: integration without platform, property or id")
	}
	return e.enqueue(ctx, job{Integ: &in})
}

// checkIntegration records (and optionally kicks) an integration that is
// not on the allowlist, and reports whether an alert tells it (this one,
// or the one it just raised for the same integration).
func (e *Engine) checkIntegration(ctx context.Context, pl *attached, in Integration, cfg IntegrationGuardConfig) bool {
	if !cfg.Enabled || in.ID == "" || slices.Contains(cfg.Allowlist, in.ID) {
		return false
	}
	if self, _ := pl.dir.Self(); in.ID == self {
		return false
	}
	k := propKey{in.Platform, in.Property}
	if !e.firstSeen(fmt.Sprintf("int\x00%s\x00%s\x00%s", k.p, k.id, in.ID)) {
		return true // already alerted: that alert tells this one too
	}
	log := e.log.With().Str("platform", k.p.String()).Str("property", k.id).
		Str("integration", in.ID).Str("kind", in.Kind).Logger()
	log.Info().Msg("unauthorized integration")
	act, res := ActNone, OutcomeNone
	if cfg.Kick && in.Kind == IntegrationBot {
		act = ActKick
		err := pl.actions.Kick(ctx, k.id, in.ID, platform.Cause{Function: audit.FuncIntegrationGuard,
			Reason: "integration guard: bot not on the allowlist", Quiet: audit.QuietDetail})
		res = outcome(err)
		if err != nil {
			log.Warn().Err(err).Msg("kick an unauthorized bot")
		}
	}
	rec := e.synthetic(pl, k, audit.SecurityEvent, audit.FuncIntegrationGuard)
	rec.ChannelID = in.ChannelID
	rec.TargetIDs = []string{in.ID}
	if in.AddedBy != "" {
		rec.TargetIDs = append(rec.TargetIDs, in.AddedBy)
	}
	rec.Params.Set(audit.ParamKind, audit.KindUnauthorizedIntegration)
	rec.Params.Set(ParamIntegration, in.Kind)
	rec.Params.Set(audit.ParamTargetName, in.Name)
	if in.Kind == IntegrationWebhook {
		rec.Params.Set(audit.ParamWebhookID, in.ID)
	}
	rec.Params.Set(audit.ParamAction, act)
	rec.Params.Set(audit.ParamOutcome, res)
	e.record(ctx, rec)
	return true
}

// RaidFilter wraps the log router: USER_JOIN records of a property in a
// raid get no log routes; nor does the CHAT_MESSAGE_DELETE of a message
// the link filter removed, whose MODERATION_LINK (with the content) tells
// the removal once. Everything else is routed by next (which may be nil).
// Joins are counted after commit, so the joins committed together with the
// one that starts a raid may still be routed.
func (e *Engine) RaidFilter(next recorder.Router) recorder.Router {
	return recorder.RouterFunc(func(ev *audit.Event) []recorder.Route {
		if ev.Type == audit.UserJoin && e.InRaid(ev.Platform, ev.PropertyID) {
			return nil
		}
		if ev.Type == audit.ChatMessageDelete && ev.Function == audit.FuncLinkFilter {
			return nil
		}
		if next == nil {
			return nil
		}
		return next.Route(ev)
	})
}
