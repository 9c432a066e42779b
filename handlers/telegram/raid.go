package telegram

import (
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/logentry"
	"github.com/chatwarden/chatwarden/moderation"
	"github.com/chatwarden/chatwarden/platform"
)

// A raid's log entry: one message per log chat, sent when the raid is
// detected and edited in place as its records follow (they share
// moderation.ParamRaidID). It carries "Ban all" and "Kick all", which act,
// after a confirmation on the entry itself, on every account that joined
// during the raid (moderation.Engine.RaidMembers), one paced ban at a
// time, the progress shown on the entry's button.

// nsRaidEntries maps a raid's entry in a log chat to its message:
// group \x00 raid \x00 log chat -> message id.
const nsRaidEntries = "telegram/raid_entries"

const raidPrefix = "cw:R:" // cw:R:<op>:<group>:<raid>:<mac>

// raidOps: b/k ask, B/K confirm, c cancels.
var raidOps = map[string]struct{ label, confirm, running, done string }{
	"b": {"Ban all", "Ban", "Banning", "Banned"},
	"k": {"Kick all", "Kick", "Kicking", "Kicked"},
}

// raidOf returns the raid id of a JOIN_RAID record, or "".
func raidOf(e *audit.Event) string {
	if e.Type != audit.SecurityEvent || e.Params[audit.ParamKind] != audit.KindJoinRaid {
		return ""
	}
	id := e.Params[moderation.ParamRaidID]
	if len(id) > 16 || strings.ContainsAny(id, ":") {
		return ""
	}
	return id
}

func (b *Bot) raidData(op, property, raid string) string {
	return raidPrefix + op + ":" + property + ":" + raid + ":" + b.mac("R", op, property, raid)
}

// raidKeyboard is the entry's keyboard: the action's state once one ran
// or runs, else the raid's buttons.
func (b *Bot) raidKeyboard(property, raid string) *tgbotapi.InlineKeyboardMarkup {
	if state := b.raids.state(property, raid); state != "" {
		kb := tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(
			tgbotapi.NewInlineKeyboardButtonData(logentry.OneLine(state, 60), doneData)))
		return &kb
	}
	kb := tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(
		tgbotapi.NewInlineKeyboardButtonData(raidOps["b"].label, b.raidData("b", property, raid)),
		tgbotapi.NewInlineKeyboardButtonData(raidOps["k"].label, b.raidData("k", property, raid))))
	return &kb
}

// postRaid sends or edits a raid's entry in a log chat.
func (b *Bot) postRaid(chat int64, target string, e *audit.Event, raid string) (int, error) {
	key := []byte(e.PropertyID + "\x00" + raid + "\x00" + target)
	html := b.entryHTML(e, maxText)
	kb := b.raidKeyboard(e.PropertyID, raid)
	if raw, err := b.opts.Store.GetKV(nsRaidEntries, key); err == nil && len(raw) > 0 {
		if id, err := strconv.Atoi(string(raw)); err == nil {
			err := b.editMessage(chat, id, html, kb)
			if err == nil {
				return 1, nil
			}
			if te := apiError(err); te == nil || !strings.Contains(strings.ToLower(te.Message), "message to edit not found") {
				return 0, sendErr(err)
			}
			// The entry was deleted: send it again.
		}
	}
	b.globalPace()
	msg := tgbotapi.NewMessage(chat, html)
	msg.ParseMode = tgbotapi.ModeHTML
	msg.DisableWebPagePreview = true
	msg.DisableNotification = true
	msg.ReplyMarkup = kb
	resp, err := b.api.Request(msg)
	if err != nil {
		return 0, sendErr(redact(err))
	}
	var sent struct {
		MessageID int `json:"message_id"`
	}
	if json.Unmarshal(resp.Result, &sent) == nil && sent.MessageID != 0 {
		if err := b.opts.Store.Put(nsRaidEntries, key, []byte(strconv.Itoa(sent.MessageID))); err != nil {
			b.log.Error().Err(err).Str("raid", raid).Msg("remember the raid's entry; its updates will be new entries")
		}
	}
	return 1, nil
}

// raidRuns remembers raid actions under way or done, so that a second
// press does nothing.
type raidRuns struct {
	mu sync.Mutex
	m  map[string]string // group \x00 raid -> state shown on the entry
}

func (r *raidRuns) state(property, raid string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[property+"\x00"+raid]
}

// claim sets a raid's state; with start it refuses when one is set.
func (r *raidRuns) set(property, raid, state string, start bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = make(map[string]string)
	}
	k := property + "\x00" + raid
	if start && r.m[k] != "" {
		return false
	}
	r.m[k] = state
	return true
}

// onRaidPress serves a raid entry's buttons: Ban all or Kick all turns
// the keyboard into a confirmation; the confirmation starts the action.
func (b *Bot) onRaidPress(q *tgbotapi.CallbackQuery) Answer {
	parts := strings.Split(strings.TrimPrefix(q.Data, raidPrefix), ":")
	if len(parts) != 4 {
		return Answer{Text: "This button is not valid."}
	}
	op, property, raid, sig := parts[0], parts[1], parts[2], parts[3]
	if !hmac.Equal([]byte(sig), []byte(b.mac("R", op, property, raid))) {
		return Answer{Text: "This button is not valid.", Alert: true}
	}
	_, refused := b.pressedByBanner(q, property)
	if refused != nil {
		return *refused
	}
	entry := q.Message
	setKeyboard := func(kb tgbotapi.InlineKeyboardMarkup) {
		if _, err := b.api.Request(tgbotapi.NewEditMessageReplyMarkup(entry.Chat.ID, entry.MessageID, kb)); err != nil {
			b.log.Debug().Err(redact(err)).Msg("raid entry keyboard")
		}
	}
	if op == "c" {
		setKeyboard(*b.raidKeyboard(property, raid))
		return Answer{Text: "Cancelled: nothing was done."}
	}
	if state := b.raids.state(property, raid); state != "" {
		return Answer{Text: "Already under way or done: " + state, Alert: true}
	}
	ask := strings.ToLower(op)
	a, ok := raidOps[ask]
	if !ok {
		return Answer{Text: "This button is not valid."}
	}
	if b.opts.Moderation == nil {
		return Answer{Text: "The raid guard is not running here.", Alert: true}
	}
	members, err := b.opts.Moderation.RaidMembers(b.life, audit.Telegram, property, raid)
	if err != nil {
		b.log.Error().Err(err).Str("raid", raid).Msg("read the raid's members")
		return Answer{Text: "The raid's accounts could not be read; try again.", Alert: true}
	}
	if len(members) == 0 {
		return Answer{Text: "That raid is not in the group's records.", Alert: true}
	}
	n := strconv.Itoa(len(members))
	if op == ask {
		setKeyboard(tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(
			tgbotapi.NewInlineKeyboardButtonData(a.confirm+" "+n+" accounts", b.raidData(strings.ToUpper(op), property, raid)),
			tgbotapi.NewInlineKeyboardButtonData("Cancel", b.raidData("c", property, raid)))))
		return Answer{Text: fmt.Sprintf("%s all %s accounts that joined during the raid? Press again to confirm.", a.confirm, n)}
	}
	who := userName(q.From)
	if !b.raids.set(property, raid, a.running+"… 0/"+n+" ("+who+")", true) {
		return Answer{Text: "Already under way or done.", Alert: true}
	}
	cause := platform.Cause{Function: audit.FuncCommand, Reason: "raid " + raid + ": " + a.label,
		ActorID: userID(q.From), ActorName: who}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.runRaid(property, raid, ask, members, cause, entry.Chat.ID, entry.MessageID)
	}()
	return Answer{Text: a.running + " " + n + " accounts; progress shows on the entry."}
}

// runRaid bans or kicks every member of a raid, paced under Telegram's
// limits, and shows the progress on the entry the action was pressed on.
func (b *Bot) runRaid(property, raid, op string, members []string, c platform.Cause, chat int64, entry int) {
	a := raidOps[op]
	log := b.log.With().Str("chat", property).Str("raid", raid).Str("action", op).Str("by", c.ActorID).Logger()
	show := func(state string) {
		b.raids.set(property, raid, state, false)
		kb := b.raidKeyboard(property, raid)
		if _, err := b.api.Request(tgbotapi.NewEditMessageReplyMarkup(chat, entry, *kb)); err != nil {
			log.Debug().Err(redact(err)).Msg("raid action progress")
		}
	}
	done, failed := 0, 0
	pace := time.NewTicker(b.opts.RaidActionInterval)
	defer pace.Stop()
	for i, u := range members {
		select {
		case <-pace.C:
		case <-b.life.Done():
		}
		if b.life.Err() != nil {
			break
		}
		var err error
		if op == "b" {
			err = b.Ban(b.life, property, u, c)
		} else {
			err = b.Kick(b.life, property, u, c)
		}
		switch {
		case err == nil:
			done++
		case errors.Is(err, platform.ErrNotFound):
			failed++
		default:
			failed++
			log.Debug().Err(err).Str("user", u).Msg("raid action on one account")
		}
		if (i+1)%20 == 0 {
			show(fmt.Sprintf("%s… %d/%d (%s)", a.running, i+1, len(members), c.ActorName))
		}
	}
	summary := fmt.Sprintf("✓ %s %d of %d (%s)", a.done, done, len(members), c.ActorName)
	if failed > 0 {
		summary += fmt.Sprintf(", %d failed", failed)
	}
	show(summary)
	log.Info().Int("done", done).Int("failed", failed).Msg("raid action finished")
}
