package telegram

import (
	"context"
	"strconv"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/settings"
)

// A basic group that becomes a supergroup gets a new chat id. Records keep
// the id they were made under (their hash chain covers it); instead the
// handler remembers the move both ways, and everything that looks a chat
// up follows it:
//
//   - /logs in the supergroup reads its own records, then the old group's
//     (and any earlier generation's), older pages after newer ones;
//   - the group's settings (log chats, types, locale) move to the new id,
//     and the old id routes nowhere;
//   - a log chat that migrated is replaced by its new id in every group's
//     settings, and entries still queued for the old id are posted to the
//     new one.
const (
	nsMigrated = "telegram/migrated" // old chat -> new chat
	nsAlias    = "telegram/alias"    // new chat -> old chat
)

// maxGenerations bounds the alias chain followed by lookups.
const maxGenerations = 4

// migrate notes that chat old became new and moves the settings. It is
// idempotent: both chats announce the move, and a batch can be delivered
// twice after a crash.
func (b *Bot) migrate(t *batch, old, new int64) {
	if old == 0 || new == 0 || old == new {
		return
	}
	t.put(nsMigrated, itoa(old), []byte(itoa(new)))
	t.put(nsAlias, itoa(new), []byte(itoa(old)))
	b.moveSettings(itoa(old), itoa(new))
}

// moveSettings gives new the old chat's settings (merging log chats when
// new has some of its own), leaves old without log chats, and renames old
// wherever it is a log chat.
func (b *Bot) moveSettings(old, new string) {
	ctx := context.Background()
	st := b.opts.Store
	prev, err := st.Settings(ctx, audit.Telegram, old)
	if err != nil {
		b.log.Error().Err(err).Msg("migrate: read settings")
		return
	}
	if len(prev.LogChannels) > 0 || prev.Locale != "" || prev.StoreContent != nil || prev.RetentionDays > 0 {
		_, moved, err := st.UpdateSettings(ctx, audit.Telegram, new, func(s *settings.Community) error {
			if len(s.LogChannels) == 0 && s.Locale == "" {
				keep := *s
				*s = prev.Clone()
				// Engine settings made in the new chat win.
				if keep.LinkFilter != nil || keep.Verification != nil {
					s.LinkFilter, s.Verification = keep.LinkFilter, keep.Verification
				}
				return nil
			}
			for _, lc := range prev.LogChannels {
				if s.LogChannel(lc.ID) == nil {
					s.LogChannels = append(s.LogChannels, lc)
				}
			}
			return nil
		})
		if err == nil {
			b.routerUpdate(new, moved)
		}
		if _, cleared, err := st.UpdateSettings(ctx, audit.Telegram, old, func(s *settings.Community) error {
			s.LogChannels = nil
			return nil
		}); err == nil {
			b.routerUpdate(old, cleared)
		}
	}
	// The migrated chat as a log chat of other groups.
	var props []string
	_ = st.EachSettings(ctx, func(p audit.Platform, property string, s settings.Community) error {
		if p == audit.Telegram && s.LogChannel(old) != nil {
			props = append(props, property)
		}
		return nil
	})
	for _, prop := range props {
		_, updated, err := st.UpdateSettings(ctx, audit.Telegram, prop, func(s *settings.Community) error {
			if lc := s.LogChannel(old); lc != nil {
				if s.LogChannel(new) == nil {
					lc.ID = new
				} else {
					s.LogChannels = removeChannel(s.LogChannels, old)
				}
			}
			return nil
		})
		if err == nil {
			b.routerUpdate(prop, updated)
		}
	}
}

func removeChannel(lcs []settings.LogChannel, id string) []settings.LogChannel {
	out := lcs[:0]
	for _, lc := range lcs {
		if lc.ID != id {
			out = append(out, lc)
		}
	}
	return out
}

func (b *Bot) routerUpdate(property string, s settings.Community) {
	if b.opts.Router != nil {
		b.opts.Router.Update(audit.Telegram, property, s)
	}
}

// current follows a chat's migrations to the id it has now.
func (b *Bot) current(chat string) string {
	for range maxGenerations {
		v, err := b.opts.Store.GetKV(nsMigrated, []byte(chat))
		if err != nil || len(v) == 0 {
			break
		}
		chat = string(v)
	}
	return chat
}

// history returns chat and the ids it had before, newest first: the
// properties whose records are the chat's history.
func (b *Bot) history(chat string) []string {
	out := []string{chat}
	for range maxGenerations {
		v, err := b.opts.Store.GetKV(nsAlias, []byte(out[len(out)-1]))
		if err != nil || len(v) == 0 {
			break
		}
		if _, err := strconv.ParseInt(string(v), 10, 64); err != nil {
			break
		}
		out = append(out, string(v))
	}
	return out
}
