package discord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/moderation"
	"github.com/chatwarden/chatwarden/platform"
)

// A raid's log entry: one message per log channel, posted when the raid
// is detected and edited in place as its records follow (the records of
// one raid share moderation.ParamRaidID). It carries "Ban all", "Kick
// all" and "Time out all", which act, after a confirmation, on every
// account that joined during the raid (moderation.Engine.RaidMembers).

// nsRaidEntries maps a raid's entry in a log channel to its message:
// guild \x00 raid \x00 channel -> message id.
const nsRaidEntries = "discord/raid_entries"

// bulkBanMax is how many users Discord's bulk ban takes in one request.
const bulkBanMax = 200

// raidTimeout is how long "Time out all" times the raiders out.
const raidTimeout = 24 * time.Hour

// raidOp is one raid action.
type raidOp struct {
	label, confirm, running, done string
	perm                          int64
	style                         discordgo.ButtonStyle
}

var raidOps = map[string]raidOp{
	"ban": {"Ban all", "Ban", "Banning", "Banned", discordgo.PermissionBanMembers, discordgo.DangerButton},
	"kick": {"Kick all", "Kick", "Kicking", "Kicked", discordgo.PermissionKickMembers,
		discordgo.SecondaryButton},
	"timeout": {"Time out all", "Time out", "Timing out", "Timed out", discordgo.PermissionModerateMembers,
		discordgo.SecondaryButton},
}

// raidOrder is the order of the raid entry's buttons.
var raidOrder = []string{"ban", "kick", "timeout"}

// raidOf returns the raid id of a JOIN_RAID record, or "".
func raidOf(e *audit.Event) string {
	if e.Type != audit.SecurityEvent || e.Params[audit.ParamKind] != audit.KindJoinRaid {
		return ""
	}
	return e.Params[moderation.ParamRaidID]
}

// raidComponents are the buttons of a raid's entry.
func raidComponents(raid string) []discordgo.MessageComponent {
	var row discordgo.ActionsRow
	for _, op := range raidOrder {
		row.Components = append(row.Components, discordgo.Button{Label: raidOps[op].label,
			Style: raidOps[op].style, CustomID: raidCustomID(op, false, raid)})
	}
	return []discordgo.MessageComponent{row}
}

func raidEntryKey(guild, raid, channel string) []byte {
	return []byte(guild + "\x00" + raid + "\x00" + channel)
}

// postRaid posts or edits a raid's entry: the first record of the raid
// posts it (with its buttons), the later ones edit its embed, leaving its
// buttons as they are (a raid action may be showing its progress there).
func (b *Bot) postRaid(ctx context.Context, channel string, e *audit.Event, raid string) (int, error) {
	key := raidEntryKey(e.PropertyID, raid, channel)
	em := b.embed(e)
	if id, err := b.opts.Store.GetKV(nsRaidEntries, key); err == nil && len(id) > 0 {
		edit := discordgo.NewMessageEdit(channel, string(id))
		edit.Embeds = &[]*discordgo.MessageEmbed{em}
		edit.AllowedMentions = &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}
		_, err := b.s.ChannelMessageEditComplex(edit, discordgo.WithContext(ctx))
		if err == nil {
			return 1, nil
		}
		if rerr := restErr("edit raid entry", err); !errors.Is(rerr, platform.ErrNotFound) {
			return 0, rerr
		}
		// The entry was deleted: post it again.
	}
	msg, err := b.s.ChannelMessageSendComplex(channel, &discordgo.MessageSend{
		Embeds: []*discordgo.MessageEmbed{em}, Components: raidComponents(raid),
		AllowedMentions: &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}},
	}, discordgo.WithContext(ctx))
	if err != nil {
		return 0, restErr("post raid entry", err)
	}
	if err := b.opts.Store.Put(nsRaidEntries, key, []byte(msg.ID)); err != nil {
		b.log.Error().Err(err).Str("raid", raid).Msg("remember the raid's entry; its updates will be new entries")
	}
	return 1, nil
}

// raidRun is a raid action under way or done, so that a second press
// does nothing.
type raidRun struct {
	op, by   string
	done     bool
	summary  string
	finished time.Time
}

type raidRuns struct {
	mu sync.Mutex
	m  map[string]*raidRun // guild \x00 raid
}

// claim starts a run unless one of the raid is under way or done; then
// it returns a copy of that run as it is now (runRaid changes the run
// under r.mu when it ends).
func (r *raidRuns) claim(guild, raid, op, by string) (*raidRun, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = make(map[string]*raidRun)
	}
	k := guild + "\x00" + raid
	if cur := r.m[k]; cur != nil {
		seen := *cur
		return &seen, false
	}
	run := &raidRun{op: op, by: by}
	r.m[k] = run
	return run, true
}

// onRaidPress serves the raid entry's buttons: a first press asks for
// confirmation (privately), the confirmation starts the action.
func (b *Bot) onRaidPress(i *discordgo.Interaction, customID string) {
	op, confirmed, raid, ok := parseRaidCustomID(customID)
	if !ok {
		b.reply(i, "This button has expired.")
		return
	}
	if op == "cancel" {
		b.reply(i, "Cancelled: nothing was done.")
		return
	}
	a := raidOps[op]
	if !allowed(i, a.perm) {
		b.reply(i, "You do not have the permission this needs.")
		return
	}
	if b.opts.Moderation == nil {
		b.reply(i, "The raid guard is not running here.")
		return
	}
	ctx := context.Background()
	members, err := b.opts.Moderation.RaidMembers(ctx, audit.Discord, i.GuildID, raid)
	if err != nil {
		b.log.Error().Err(err).Str("raid", raid).Msg("read the raid's members")
		b.reply(i, "The raid's accounts could not be read; try again.")
		return
	}
	if len(members) == 0 {
		b.reply(i, "That raid is not in this server's records.")
		return
	}
	if !confirmed {
		n := strconv.Itoa(len(members))
		b.replyButtons(i, fmt.Sprintf("%s all %s accounts that joined during this raid? Accounts that joined before it are left alone.", a.confirm, n),
			[]discordgo.MessageComponent{discordgo.ActionsRow{Components: []discordgo.MessageComponent{
				discordgo.Button{Label: a.confirm + " " + n + " accounts", Style: discordgo.DangerButton, CustomID: raidCustomID(op, true, raid)},
				discordgo.Button{Label: "Cancel", Style: discordgo.SecondaryButton, CustomID: raidCustomID("cancel", false, raid)},
			}}})
		return
	}
	who := displayName(i.Member.User, i.Member)
	run, ok := b.raids.claim(i.GuildID, raid, op, who)
	if !ok {
		if run.done {
			b.reply(i, "Already done: "+run.summary)
		} else {
			b.reply(i, fmt.Sprintf("%s is already under way (started by %s).", raidOps[run.op].label, run.by))
		}
		return
	}
	b.reply(i, fmt.Sprintf("%s: %d accounts. Progress shows on the raid's entry.", a.running, len(members)))
	cause := platform.Cause{Function: audit.FuncCommand, Reason: "raid " + raid + ": " + a.label,
		ActorID: i.Member.User.ID, ActorName: who}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.runRaid(i.GuildID, raid, op, members, cause, run)
	}()
}

// runRaid acts on every member of a raid and shows its progress on the
// raid's entries.
func (b *Bot) runRaid(guild, raid, op string, members []string, c platform.Cause, run *raidRun) {
	a := raidOps[op]
	ctx := context.Background()
	log := b.log.With().Str("guild", guild).Str("raid", raid).Str("action", op).Str("by", c.ActorID).Logger()
	log.Info().Int("accounts", len(members)).Msg("raid action started")
	done, failed := 0, 0
	progress := func() {
		b.showRaidState(ctx, guild, raid, fmt.Sprintf("%s… %d/%d (%s)", a.running, done+failed, len(members), c.ActorName))
	}
	progress()
	switch op {
	case "ban":
		for start := 0; start < len(members); start += bulkBanMax {
			chunk := members[start:min(start+bulkBanMax, len(members))]
			ok, err := b.bulkBan(ctx, guild, chunk, c)
			if err != nil {
				log.Warn().Err(err).Int("accounts", len(chunk)).Msg("bulk ban")
			}
			done += ok
			failed += len(chunk) - ok
			progress()
		}
	default:
		last := time.Now()
		for _, u := range members {
			var err error
			if op == "kick" {
				err = b.Kick(ctx, guild, u, c)
			} else {
				err = b.Timeout(ctx, guild, u, time.Now().Add(raidTimeout), c)
			}
			if err != nil {
				failed++
				log.Debug().Err(err).Str("user", u).Msg("raid action on one account")
			} else {
				done++
			}
			if time.Since(last) > 2*time.Second {
				progress()
				last = time.Now()
			}
		}
	}
	summary := fmt.Sprintf("%s %d of %d (%s)", a.done, done, len(members), c.ActorName)
	if failed > 0 {
		summary += fmt.Sprintf(", %d failed", failed)
	}
	b.raids.mu.Lock()
	run.done, run.summary, run.finished = true, summary, time.Now()
	b.raids.mu.Unlock()
	b.showRaidState(ctx, guild, raid, "✓ "+summary)
	log.Info().Int("done", done).Int("failed", failed).Msg("raid action finished")
}

// bulkBan bans up to 200 users in one request and records a USER_BAN for
// each one banned, with the presser as actor; it returns how many were.
func (b *Bot) bulkBan(ctx context.Context, guild string, users []string, c platform.Cause) (int, error) {
	for _, u := range users {
		b.echo.Expect("ban", guild, u)
		b.echo.Expect("ban-remove", guild, u)
	}
	body := map[string]any{"user_ids": users, "delete_message_seconds": 0}
	raw, err := b.s.RequestWithBucketID("POST", discordgo.EndpointGuild(guild)+"/bulk-ban", body,
		discordgo.EndpointGuild(guild)+"/bulk-ban", reason(c), discordgo.WithContext(ctx))
	var res struct {
		Banned []string `json:"banned_users"`
		Failed []string `json:"failed_users"`
	}
	if err == nil {
		if jerr := json.Unmarshal(raw, &res); jerr != nil {
			err = fmt.Errorf("decode bulk ban result: %w", jerr)
		}
	}
	banned := make(map[string]bool, len(res.Banned))
	var evs []*audit.Event
	for _, u := range res.Banned {
		banned[u] = true
		e := b.actionEvent(guild, audit.UserBan, "GUILD_BAN_ADD", c)
		b.nameTarget(e, guild, u)
		evs = append(evs, e)
	}
	for _, u := range users {
		if !banned[u] {
			b.echo.Take("ban", guild, u)
			b.echo.Take("ban-remove", guild, u)
		}
	}
	if len(evs) > 0 {
		b.nameChannels(evs)
		if rerr := b.opts.Recorder.Record(ctx, evs...); rerr != nil {
			return len(evs), fmt.Errorf("record bulk ban: %w", rerr)
		}
	}
	if err != nil {
		return len(evs), restErr("bulk ban", err)
	}
	return len(evs), nil
}

// showRaidState replaces the buttons of every entry of a raid by one
// disabled button telling what a raid action is doing or did.
func (b *Bot) showRaidState(ctx context.Context, guild, raid, state string) {
	prefix := []byte(guild + "\x00" + raid + "\x00")
	type entry struct{ channel, id string }
	var entries []entry
	_ = b.opts.Store.ScanKV(nsRaidEntries, prefix, func(k, v []byte) error {
		entries = append(entries, entry{string(k[len(prefix):]), string(v)})
		return nil
	})
	comps := []discordgo.MessageComponent{discordgo.ActionsRow{Components: []discordgo.MessageComponent{
		discordgo.Button{Label: audit.Cut(state, 80), Style: discordgo.SecondaryButton, Disabled: true,
			CustomID: raidCustomID("cancel", false, raid)},
	}}}
	for _, en := range entries {
		edit := discordgo.NewMessageEdit(en.channel, en.id)
		edit.Components = &comps
		if _, err := b.s.ChannelMessageEditComplex(edit, discordgo.WithContext(ctx)); err != nil {
			b.log.Debug().Err(err).Str("channel", en.channel).Msg("show the raid action's progress")
		}
	}
}

// replyButtons answers privately with buttons.
func (b *Bot) replyButtons(i *discordgo.Interaction, text string, comps []discordgo.MessageComponent) {
	err := b.s.InteractionRespond(i, &discordgo.InteractionResponse{
		Type: discordgo.InteractionResponseChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{Content: audit.Cut(text, 2000), Flags: discordgo.MessageFlagsEphemeral,
			Components:      comps,
			AllowedMentions: &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}},
	})
	if err != nil {
		b.log.Warn().Err(err).Msg("answer interaction")
	}
}

// raidCustomID is a raid button's custom id: cw:R:<op>[!]:<raid>, "!"
// marking the confirmation.
func raidCustomID(op string, confirmed bool, raid string) string {
	if confirmed {
		op += "!"
	}
	return raidPrefix + op + ":" + raid
}

// parseRaidCustomID refuses every id raidCustomID cannot make.
func parseRaidCustomID(customID string) (op string, confirmed bool, raid string, ok bool) {
	if len(customID) > maxCustomID {
		return "", false, "", false
	}
	rest, ok := strings.CutPrefix(customID, raidPrefix)
	if !ok {
		return "", false, "", false
	}
	op, raid, ok = strings.Cut(rest, ":")
	if !ok || raid == "" || len(raid) > 16 {
		return "", false, "", false
	}
	for _, c := range raid {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z') {
			return "", false, "", false
		}
	}
	op, confirmed = strings.CutSuffix(op, "!")
	if _, known := raidOps[op]; !known && (op != "cancel" || confirmed) {
		return "", false, "", false
	}
	return op, confirmed, raid, true
}
