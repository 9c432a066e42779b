package discord

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/export"
	"github.com/chatwarden/chatwarden/logentry"
	"github.com/chatwarden/chatwarden/store"
)

func (b *Bot) onAudit(i *discordgo.Interaction, data discordgo.ApplicationCommandInteractionData) {
	if !allowed(i, permAudit) {
		b.reply(i, "You need the View Audit Log permission.")
		return
	}
	if len(data.Options) != 1 {
		b.reply(i, "Choose a subcommand.")
		return
	}
	sub := data.Options[0]
	if sub.Name == "viewer" {
		b.onAuditViewer(i)
		return
	}
	opts := options(sub.Options)
	if sub.Name == "erase" {
		b.onAuditErase(i, opts)
		return
	}
	search := command.Search{Types: optString(opts, "type"), User: optString(opts, "user"),
		Channel: optString(opts, "channel"), Since: optString(opts, "since"), Until: optString(opts, "until")}
	switch sub.Name {
	case "search", "user":
		if n := optString(opts, "limit"); n != "" {
			fmt.Sscan(n, &search.Limit)
		}
		q, err := search.Query(b.scope(i), time.Now())
		if err != nil {
			b.reply(i, command.Explain(err, "The search could not be run; try again."))
			return
		}
		if err := b.deferReply(i, false); err != nil {
			b.log.Warn().Err(err).Msg("defer")
			return
		}
		b.showPage(i, q, "")
	case "stats":
		since, err := command.ParseTime(optString(opts, "since"), time.Now())
		if err != nil {
			b.reply(i, command.Explain(fmt.Errorf("%w: since: %w", command.ErrBadArgument, err), "The date could not be read."))
			return
		}
		if err := b.deferReply(i, false); err != nil {
			return
		}
		counts, err := b.opts.Store.Counts(context.Background(), audit.Discord, i.GuildID, since, time.Time{})
		if err != nil {
			b.editText(i, "The audit log could not be read; try again.")
			return
		}
		em := &discordgo.MessageEmbed{Title: "Audit log statistics"}
		for _, t := range audit.EventTypes() {
			if n := counts[t]; n > 0 {
				em.Fields = append(em.Fields, &discordgo.MessageEmbedField{Name: t.String(), Value: fmt.Sprint(n), Inline: true})
			}
		}
		if len(em.Fields) == 0 {
			em.Description = "No entries."
		}
		b.edit(i, &discordgo.WebhookEdit{Embeds: &[]*discordgo.MessageEmbed{em}})
	case "export":
		q, err := search.Query(b.scope(i), time.Now())
		if err != nil {
			b.reply(i, command.Explain(err, "The search could not be run; try again."))
			return
		}
		if err := b.deferReply(i, false); err != nil {
			return
		}
		b.export(i, q, optString(opts, "format"))
	default:
		b.reply(i, "Unknown subcommand.")
	}
}

// exportLimit keeps exports under Discord's smallest upload limit.
const exportLimit = 8 << 20

func (b *Bot) export(i *discordgo.Interaction, q store.Query, format string) {
	f, err := export.ParseFormat(format)
	if err != nil {
		f = export.NDJSON
	}
	var buf bytes.Buffer
	n, truncated := 0, false
	ew := export.NewWriter(&buf, f)
	err = b.opts.Store.Scan(context.Background(), q, func(e *audit.Event) error {
		if buf.Len() > exportLimit {
			truncated = true
			return errStop
		}
		n++
		return ew.Write(e)
	})
	if ferr := ew.Flush(); ferr != nil {
		err = ferr
	}
	if err != nil && !errors.Is(err, errStop) {
		b.editText(i, "The audit log could not be read; try again.")
		return
	}
	name := "audit." + string(f)
	msg := fmt.Sprintf("%d entries.", n)
	if truncated {
		msg += " The file stops at 8 MiB: narrow the filters or use the HTTP API for everything."
	}
	b.edit(i, &discordgo.WebhookEdit{Content: &msg, Files: []*discordgo.File{{Name: name, ContentType: "text/plain", Reader: &buf}}})
}

var errStop = errors.New("stop")

// showPage runs q and shows one page with Older/Newer buttons whose state
// is saved under an id only the invoker of this guild can use.
func (b *Bot) showPage(i *discordgo.Interaction, q store.Query, pageID string) {
	page, err := b.opts.Store.Query(context.Background(), q)
	if err != nil {
		b.editText(i, "The audit log could not be read; try again.")
		return
	}
	if pageID == "" {
		pages := command.Pages{Store: b.opts.Store}
		st := command.PageState{Scope: b.scope(i), Invoker: i.Member.User.ID, Query: q}
		st.Query.Cursor = ""
		if pageID, err = pages.Save(st); err != nil {
			b.editText(i, "The results could not be saved; try again.")
			return
		}
	}
	locale := "en"
	if b.opts.Router != nil {
		locale = b.opts.Router.Locale(audit.Discord, i.GuildID)
	}
	var lines []string
	for _, e := range page.Events {
		en := logentry.Render(e, locale)
		lines = append(lines, fmt.Sprintf("<t:%d:f> %s · `%s` · `%s`", e.Time.Unix(), escapeMarkdown(en.Summary), e.Type, e.ID))
	}
	desc := strings.Join(lines, "\n")
	if desc == "" {
		desc = "No entries match."
	}
	em := &discordgo.MessageEmbed{Title: "Audit log", Description: cut(desc, maxDescription)}
	var buttons []discordgo.MessageComponent
	if page.Newer != "" {
		buttons = append(buttons, discordgo.Button{Label: "Newer", Style: discordgo.SecondaryButton, CustomID: pageCustomID(pageID, page.Newer)})
	}
	if page.Older != "" {
		buttons = append(buttons, discordgo.Button{Label: "Older", Style: discordgo.SecondaryButton, CustomID: pageCustomID(pageID, page.Older)})
	}
	comps := []discordgo.MessageComponent{}
	if len(buttons) > 0 {
		comps = append(comps, discordgo.ActionsRow{Components: buttons})
	}
	b.edit(i, &discordgo.WebhookEdit{Embeds: &[]*discordgo.MessageEmbed{em}, Components: &comps})
}

// onPage serves an Older/Newer press: only the invoker, only in the guild
// the search ran in, and the cursor must belong to that search.
func (b *Bot) onPage(i *discordgo.Interaction, customID string) {
	pageID, cursor, ok := parsePageCustomID(customID)
	if !ok {
		b.reply(i, "This button has expired.")
		return
	}
	pages := command.Pages{Store: b.opts.Store}
	st, err := pages.Load(pageID, b.scope(i), i.Member.User.ID)
	if err != nil {
		b.log.Debug().Err(err).Str("guild", i.GuildID).Msg("audit search page refused")
		b.reply(i, command.PageRefusal(err, "This button no longer works; run the search again."))
		return
	}
	q := st.Query
	q.Cursor = cursor
	if _, err := b.opts.Store.Query(context.Background(), q); err != nil {
		b.reply(i, "This button does not belong to these results.")
		return
	}
	if err := b.deferReply(i, true); err != nil {
		return
	}
	b.showPage(i, q, pageID)
}
