package discord

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/logchannel"
	"github.com/chatwarden/chatwarden/logentry"
	"github.com/chatwarden/chatwarden/settings"
)

// Discord's limits on a message's embeds.
const (
	maxEmbeds      = 10
	maxEmbedTotal  = 6000
	maxDescription = 4096
	maxFields      = 25
	maxFieldName   = 256
	maxFieldValue  = 1024
	maxTitle       = 256
	maxFooter      = 2048

	maxSummary = 1024 // of the description, the rest is for the content
)

var categoryColour = map[audit.Category]int{
	audit.CategoryMembers:    0x3BA55C, // green
	audit.CategoryMessages:   0x5865F2, // blurple
	audit.CategoryModeration: 0xED4245, // red
	audit.CategoryServer:     0xFAA61A, // amber
}

var _ logchannel.Poster = (*Bot)(nil)

// Post implements logchannel.Poster: as many entries as fit one message (up to
// ten embeds, 6,000 characters), rendered in the property's locale, with
// every mention disabled so that no entry can ping.
func (b *Bot) Post(ctx context.Context, channel string, evs []*audit.Event) (int, error) {
	var embeds []*discordgo.MessageEmbed
	var comps []discordgo.MessageComponent
	total := 0
	for _, e := range evs {
		// A raid's records are one entry, edited in place: a message of
		// its own.
		if raid := raidOf(e); raid != "" {
			if len(embeds) > 0 {
				break
			}
			return b.postRaid(ctx, channel, e, raid)
		}
		// An entry with reversal buttons is a message of its own, so that
		// its buttons are unambiguous.
		buttons := reversalComponents(e)
		if len(embeds) > 0 && buttons != nil {
			break
		}
		em := b.embed(e)
		size := embedSize(em)
		if len(embeds) == maxEmbeds || (len(embeds) > 0 && total+size > maxEmbedTotal) {
			break
		}
		embeds = append(embeds, em)
		total += size
		if buttons != nil {
			comps = buttons
			break
		}
	}
	msg := &discordgo.MessageSend{
		Embeds:          embeds,
		Components:      comps,
		AllowedMentions: &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}},
	}
	if _, err := b.s.ChannelMessageSendComplex(channel, msg, discordgo.WithContext(ctx)); err != nil {
		return 0, restErr("post log entry", err)
	}
	return len(embeds), nil
}

// embed renders one record.
func (b *Bot) embed(e *audit.Event) *discordgo.MessageEmbed {
	locale := "en"
	if b.opts.Router != nil {
		locale = b.opts.Router.Locale(e.Platform, e.PropertyID)
	}
	en := logentry.Render(e, locale)
	// The summary is cut to leave the content room: names are long enough
	// (a target name may fill a 2 KiB param, doubled by escaping) to take
	// the whole description otherwise.
	desc := cut(escapeMarkdown(en.Summary), maxSummary)
	if en.Content != "" {
		desc += "\n" + quote(en.Content, maxDescription-len([]rune(desc))-1)
	}
	em := &discordgo.MessageEmbed{
		Title:       cut(en.Title, maxTitle),
		Description: cut(desc, maxDescription),
		Color:       categoryColour[en.Category],
		Footer:      &discordgo.MessageEmbedFooter{Text: cut(en.Footer, maxFooter)},
		Timestamp:   e.Time.UTC().Format(time.RFC3339),
	}
	for _, f := range en.Fields {
		if len(em.Fields) == maxFields {
			break
		}
		em.Fields = append(em.Fields, &discordgo.MessageEmbedField{
			Name: cut(f.Label, maxFieldName), Value: cut(escapeMarkdown(f.Value), maxFieldValue), Inline: f.Inline})
	}
	// Keep one embed within the whole message's budget on its own.
	for embedSize(em) > maxEmbedTotal && len(em.Fields) > 0 {
		em.Fields = em.Fields[:len(em.Fields)-1]
	}
	if embedSize(em) > maxEmbedTotal {
		em.Description = cut(em.Description, maxEmbedTotal-embedSize(em)+len([]rune(em.Description)))
	}
	return em
}

func embedSize(em *discordgo.MessageEmbed) int {
	n := len([]rune(em.Title)) + len([]rune(em.Description))
	if em.Footer != nil {
		n += len([]rune(em.Footer.Text))
	}
	for _, f := range em.Fields {
		n += len([]rune(f.Name)) + len([]rune(f.Value))
	}
	return n
}

// cut shortens s to max runes with a marker.
func cut(s string, max int) string {
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	if max <= 0 {
		return ""
	}
	marker := []rune(audit.CutMarker)
	if max <= len(marker) {
		return string(r[:max])
	}
	return string(r[:max-len(marker)]) + audit.CutMarker
}

// quote renders user content as a Markdown quote that cannot break out:
// Markdown is escaped and every line is quoted; it is cut with a marker.
func quote(s string, max int) string {
	lines := strings.Split(escapeMarkdown(s), "\n")
	for i, l := range lines {
		lines[i] = "> " + l
	}
	return cut(strings.Join(lines, "\n"), max)
}

var markdownEscaper = strings.NewReplacer(
	`\`, `\\`, `*`, `\*`, `_`, `\_`, "~", `\~`, "`", "\\`", `|`, `\|`, `>`, `\>`,
	`[`, `\[`, `]`, `\]`, `(`, `\(`, `)`, `\)`, `#`, `\#`, `-`, `\-`, `<`, `\<`, `@`, "@\u200b",
)

// escapeMarkdown makes user text display literally in an embed: no
// formatting, masked links, headings or mention syntax.
func escapeMarkdown(s string) string { return markdownEscaper.Replace(s) }

// newDeliverer builds the log deliverer when the bot has a router; it is
// set once, in New, so command handlers may use it at any time.
func (b *Bot) newDeliverer() *logchannel.Deliverer {
	if b.opts.Router == nil {
		return nil
	}
	return logchannel.NewDeliverer(logchannel.DelivererOptions{
		Sink: audit.Discord.String(), Outbox: b.opts.Store, Poster: b,
		MinInterval: b.opts.LogInterval, Logger: b.log, OnFailure: b.opts.OnDeliveryFailure,
		Hold:    b.logHold(),
		OnPause: func(channel string, err error) { b.pauseChannel(context.Background(), channel, err) },
	})
}

// startDelivery runs the log deliverer for this bot's guilds.
func (b *Bot) startDelivery(ctx context.Context) {
	d := b.deliverer
	if d == nil {
		return
	}
	_ = b.opts.Store.EachSettings(ctx, func(p audit.Platform, property string, s settings.Community) error {
		for _, lc := range s.LogChannels {
			if p == audit.Discord && lc.Paused != "" {
				d.Pause(lc.ID)
			}
		}
		return nil
	})
	b.opts.Recorder.Subscribe(func([]*audit.Event) { d.Wake() })
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		d.Run(ctx)
	}()
}

// pauseChannel records why a log channel stopped receiving entries, so
// that /config show can say it.
func (b *Bot) pauseChannel(ctx context.Context, channel string, cause error) {
	reason := fmt.Sprintf("the bot cannot post here (%v); fix its permissions and set the channel again", cause)
	_ = b.opts.Store.EachSettings(ctx, func(p audit.Platform, property string, s settings.Community) error {
		if p != audit.Discord || s.LogChannel(channel) == nil {
			return nil
		}
		go func() {
			_, updated, err := b.opts.Store.UpdateSettings(context.Background(), p, property, func(s *settings.Community) error {
				if lc := s.LogChannel(channel); lc != nil {
					lc.Paused, lc.PausedAt = audit.Cut(reason, 300), time.Now().UTC()
				}
				return nil
			})
			if err == nil {
				b.opts.Router.Update(p, property, updated)
			}
		}()
		return nil
	})
}

// logHold is the deliverer's Hold: the raid guard's verdict on joins.
func (b *Bot) logHold() func(*audit.Event) logchannel.Verdict {
	if b.opts.Moderation == nil {
		return nil
	}
	return b.opts.Moderation.LogVerdict
}
