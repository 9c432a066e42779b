package telegram

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/logentry"
	"github.com/chatwarden/chatwarden/store"
)

// Telegram messages hold about 4096 characters: /logs pages are short.
const maxPage = 20

// parseLogs reads /logs arguments in any order: event types or presets,
// @username or a user id, a time (24h, 7d, a date), a limit (a number up
// to 1000), or key=value (type=, user=, since=, until=, limit=, topic=).
func (b *Bot) parseLogs(chat string, args []string) (command.Search, error) {
	var s command.Search
	var types []string
	for _, a := range args {
		key, val, kv := strings.Cut(a, "=")
		if !kv {
			key, val = "", a
		}
		switch strings.ToLower(key) {
		case "type", "types":
			types = append(types, val)
			continue
		case "user":
			u, err := b.resolveUser(chat, val)
			if err != nil {
				return s, err
			}
			s.User = u
			continue
		case "since":
			s.Since = val
			continue
		case "until":
			s.Until = val
			continue
		case "limit":
			n, err := strconv.Atoi(val)
			if err != nil {
				return s, fmt.Errorf("%w: limit: %q is not a number", command.ErrBadArgument, val)
			}
			s.Limit = n
			continue
		case "topic", "channel":
			s.Channel = val
			continue
		case "":
		default:
			return s, fmt.Errorf("%w: %s: is not an argument (use type, user, since, until, limit or topic)", command.ErrBadArgument, key)
		}
		switch n, err := strconv.ParseInt(val, 10, 64); {
		case strings.HasPrefix(val, "@"):
			u, err := b.resolveUser(chat, val)
			if err != nil {
				return s, err
			}
			s.User = u
		case err == nil && n >= 1 && n <= store.MaxLimit && s.Limit == 0:
			s.Limit = int(n)
		case err == nil:
			s.User = val
		default:
			if _, terr := command.ParseTime(val, time.Now()); terr == nil {
				if s.Since == "" {
					s.Since = val
				} else {
					s.Until = val
				}
				continue
			}
			types = append(types, val)
		}
	}
	s.Types = strings.Join(types, ",")
	if s.Limit > maxPage {
		return s, fmt.Errorf("%w: limit: at most %d entries fit one Telegram message", command.ErrBadArgument, maxPage)
	}
	return s, nil
}

// resolveUser turns @username into the id of a member the handler has
// seen in the group (Telegram cannot look users up by name).
func (b *Bot) resolveUser(chat, arg string) (string, error) {
	if _, err := strconv.ParseInt(arg, 10, 64); err == nil {
		return arg, nil
	}
	name := strings.TrimPrefix(arg, "@")
	found := ""
	for _, c := range b.history(chat) {
		_ = b.opts.Store.ScanKV(nsProfile, []byte(c+"/"), func(k, v []byte) error {
			var p profile
			if json.Unmarshal(v, &p) == nil && p.Username != "" && strings.EqualFold(p.Username, name) {
				found = strings.TrimPrefix(string(k), c+"/")
				return errFound
			}
			return nil
		})
		if found != "" {
			return found, nil
		}
	}
	return "", fmt.Errorf("%w: user: chatwarden has not seen @%s in this group; use their numeric id", command.ErrBadArgument, name)
}

var errFound = errors.New("found")

func (b *Bot) storedProfile(chat, user int64) (profile, bool) {
	var p profile
	v, err := b.opts.Store.GetKV(nsProfile, []byte(profileKey(chat, user)))
	if err != nil || json.Unmarshal(v, &p) != nil {
		return p, false
	}
	return p, true
}

// logs answers /logs with the first page of results and Older/Newer
// buttons that only the caller may press.
func (b *Bot) logs(m *tgbotapi.Message, c caller, args []string) {
	chat := chatID(m.Chat)
	s, err := b.parseLogs(chat, args)
	if err == nil && s.User == "" && m.ReplyToMessage != nil && m.ReplyToMessage.From != nil && !m.ReplyToMessage.From.IsBot {
		s.User = userID(m.ReplyToMessage.From) // /logs as a reply: that member's entries
	}
	var q store.Query
	if err == nil {
		q, err = s.Query(command.Scope{Platform: audit.Telegram, Property: chat}, time.Now())
	}
	if err != nil {
		if !errors.Is(err, command.ErrBadArgument) {
			b.log.Error().Err(err).Msg("audit search")
		}
		b.answer(m, esc(command.Explain(err, "The search could not be run; try again.")), nil)
		return
	}
	st := command.PageState{Scope: command.Scope{Platform: audit.Telegram, Property: chat}, Invoker: c.id, Query: q}
	id, err := (&command.Pages{Store: b.opts.Store}).Save(st)
	if err != nil {
		b.answer(m, "The search could not be saved; try again.", nil)
		return
	}
	text, kb, err := b.page(chat, id, q, 0, "")
	if err != nil {
		b.answer(m, "The audit log could not be read; try again.", nil)
		return
	}
	b.answer(m, text, kb)
}

// page renders one page of q. A group that migrated has its history under
// its earlier ids: generation gen of the chat's history is searched, and
// when it is exhausted, the Older button moves on to the next.
func (b *Bot) page(chat, pageID string, q store.Query, gen int, cursor string) (string, *tgbotapi.InlineKeyboardMarkup, error) {
	chain := b.history(chat)
	if gen < 0 || gen >= len(chain) {
		return "", nil, store.ErrBadCursor
	}
	var page store.Page
	for {
		qq := q
		qq.Property, qq.Cursor = chain[gen], cursor
		var err error
		if page, err = b.opts.Store.Query(b.life, qq); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				err = nil // a property the store has no records of
			} else {
				return "", nil, err
			}
		}
		if len(page.Events) > 0 || cursor != "" || gen+1 >= len(chain) {
			break
		}
		gen++ // nothing here yet: the history before the migration
	}
	locale := b.locale(chat)
	var sb strings.Builder
	sb.WriteString("<b>Audit log</b>")
	if gen > 0 {
		sb.WriteString(" (before the upgrade to a supergroup)")
	}
	if len(page.Events) == 0 {
		sb.WriteString("\nNo entries match.")
	}
	for _, e := range page.Events {
		en := logentry.Render(e, locale)
		fmt.Fprintf(&sb, "\n<code>%s</code> %s", e.Time.UTC().Format("01-02 15:04"), esc(cutUTF16(en.Summary, 160)))
	}
	var row []tgbotapi.InlineKeyboardButton
	if page.Newer != "" {
		row = append(row, tgbotapi.NewInlineKeyboardButtonData("‹ Newer", pageData(pageID, gen, page.Newer)))
	} else if gen > 0 {
		row = append(row, tgbotapi.NewInlineKeyboardButtonData("‹ Newer", pageData(pageID, gen-1, "")))
	}
	if page.Older != "" {
		row = append(row, tgbotapi.NewInlineKeyboardButtonData("Older ›", pageData(pageID, gen, page.Older)))
	} else if gen+1 < len(chain) {
		row = append(row, tgbotapi.NewInlineKeyboardButtonData("Older ›", pageData(pageID, gen+1, "")))
	}
	if len(row) == 0 {
		return sb.String(), nil, nil
	}
	kb := tgbotapi.NewInlineKeyboardMarkup(row)
	return sb.String(), &kb, nil
}

// pageData is at most 5+12+1+1+40 = 59 bytes, under Telegram's 64.
func pageData(id string, gen int, cursor string) string {
	return pagePrefix + id + ":" + strconv.Itoa(gen) + cursor
}

// onPage serves Older/Newer: only the member who searched, only in the
// group the search ran in, and the cursor must belong to that search.
func (b *Bot) onPage(q *tgbotapi.CallbackQuery) Answer {
	id, rest, ok := strings.Cut(strings.TrimPrefix(q.Data, pagePrefix), ":")
	if !ok || rest == "" {
		return Answer{Text: "This button is not valid."}
	}
	gen := int(rest[0] - '0')
	chat := chatID(q.Message.Chat)
	pages := &command.Pages{Store: b.opts.Store}
	scope := command.Scope{Platform: audit.Telegram, Property: chat}
	st, err := pages.Load(id, scope, userID(q.From))
	if err != nil {
		// An anonymous admin's search: any admin of the group may page it.
		st2, err2 := pages.Load(id, scope, chat)
		refused := err2 != nil
		if !refused {
			mem, merr := b.member(q.Message.Chat.ID, q.From.ID)
			refused = merr != nil || !isAdminMember(mem)
		}
		if refused {
			b.log.Debug().Err(err).Str("chat", chat).Msg("/logs page refused")
			return Answer{Text: command.PageRefusal(err, "This button no longer works; run the search again."), Alert: true}
		}
		st = st2
	}
	text, kb, err := b.page(chat, id, st.Query, gen, rest[1:])
	if err != nil {
		return Answer{Text: "This button does not belong to these results.", Alert: true}
	}
	if err := b.editMessage(q.Message.Chat.ID, q.Message.MessageID, text, kb); err != nil {
		b.log.Warn().Err(err).Msg("edit /logs page")
		return Answer{Text: "The page could not be shown; try again."}
	}
	return Answer{}
}
