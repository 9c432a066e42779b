package telegramtest_test

import (
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
)

func TestMain(m *testing.M) {
	// tgbotapi logs every failed poll; keep test output readable.
	_ = tgbotapi.SetLogger(log.New(io.Discard, "", 0))
	os.Exit(m.Run())
}

func start(t *testing.T, opts telegramtest.Options) (*telegramtest.Server, *tgbotapi.BotAPI) {
	t.Helper()
	if opts.LongPollCap == 0 {
		opts.LongPollCap = 2 * time.Second
	}
	srv := telegramtest.New(opts)
	t.Cleanup(srv.Close)
	bot, err := tgbotapi.NewBotAPIWithAPIEndpoint(srv.Token(), srv.Endpoint())
	if err != nil {
		t.Fatalf("NewBotAPIWithAPIEndpoint: %v", err)
	}
	return srv, bot
}

func apiErr(t *testing.T, err error) *tgbotapi.Error {
	t.Helper()
	var e *tgbotapi.Error
	if !errors.As(err, &e) {
		t.Fatalf("want *tgbotapi.Error, got %T %v", err, err)
	}
	return e
}

func rawPost(t *testing.T, u string, values url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := http.PostForm(u, values)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return resp.StatusCode, body
}

func TestGetMeTokenAndUnknownMethods(t *testing.T) {
	srv, bot := start(t, telegramtest.Options{})
	if bot.Self.ID != srv.Bot().ID || bot.Self.UserName != srv.Bot().Username || !bot.Self.IsBot {
		t.Fatalf("Self = %+v, want %+v", bot.Self, srv.Bot())
	}
	if _, err := tgbotapi.NewBotAPIWithAPIEndpoint("1:wrong", srv.Endpoint()); err == nil || err.Error() != "Unauthorized" {
		t.Fatalf("wrong token: err = %v", err)
	}
	code, body := rawPost(t, srv.URL+"/bot1:wrong/getMe", nil)
	if code != 401 || body["ok"] != false || body["error_code"] != float64(401) || body["description"] != "Unauthorized" {
		t.Fatalf("401 answer = %d %v", code, body)
	}
	_, err := bot.MakeRequest("noSuchMethod", nil)
	if e := apiErr(t, err); e.Code != 404 || e.Message != "Not Found" {
		t.Fatalf("unknown method: %+v", e)
	}
	_, err = bot.MakeRequest("sendPoll", tgbotapi.Params{"chat_id": "1"})
	if e := apiErr(t, err); e.Code != 501 {
		t.Fatalf("unimplemented method: %+v", e)
	}
	// Method names are case-insensitive, GET with a query string works.
	resp, err := http.Get(srv.URL + "/bot" + srv.Token() + "/GETME")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET GETME: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestGetUpdatesOffsetConfirmation(t *testing.T) {
	srv, bot := start(t, telegramtest.Options{})
	owner := srv.NewUser("Olga")
	group := srv.NewSupergroup("Mods", owner)
	u1 := srv.Message(group, owner, "first")
	u2 := srv.Message(group, owner, "second")
	if u2.UpdateID != u1.UpdateID+1 || u1.Message.MessageID+1 != u2.Message.MessageID {
		t.Fatalf("ids not sequential: %d %d", u1.UpdateID, u2.UpdateID)
	}

	got, err := bot.GetUpdates(tgbotapi.UpdateConfig{})
	if err != nil || len(got) != 2 || got[0].Message.Text != "first" {
		t.Fatalf("GetUpdates = %v, %v", got, err)
	}
	// Without an offset nothing is confirmed: the same updates come again.
	again, _ := bot.GetUpdates(tgbotapi.UpdateConfig{})
	if len(again) != 2 {
		t.Fatalf("redelivery without offset: %d updates", len(again))
	}
	// An offset past the last update confirms both; they are never redelivered.
	none, _ := bot.GetUpdates(tgbotapi.UpdateConfig{Offset: got[1].UpdateID + 1})
	if len(none) != 0 || len(srv.PendingUpdates()) != 0 {
		t.Fatalf("after confirmation: %d updates, %d pending", len(none), len(srv.PendingUpdates()))
	}
	srv.Message(group, owner, "third")
	third, _ := bot.GetUpdates(tgbotapi.UpdateConfig{Offset: got[0].UpdateID})
	if len(third) != 1 || third[0].Message.Text != "third" {
		t.Fatalf("stale offset redelivered confirmed updates: %+v", third)
	}
	// limit and a negative offset (keep only the last N updates).
	srv.Message(group, owner, "4")
	srv.Message(group, owner, "5")
	one, _ := bot.GetUpdates(tgbotapi.UpdateConfig{Limit: 1})
	if len(one) != 1 || one[0].Message.Text != "third" {
		t.Fatalf("limit 1: %+v", one)
	}
	last, _ := bot.GetUpdates(tgbotapi.UpdateConfig{Offset: -1})
	if len(last) != 1 || last[0].Message.Text != "5" || len(srv.PendingUpdates()) != 1 {
		t.Fatalf("offset -1: %+v pending %d", last, len(srv.PendingUpdates()))
	}
	calls := srv.GetUpdatesCalls()
	if calls[len(calls)-1].Offset != -1 || calls[0].AllowedUpdatesRaw != "null" {
		t.Fatalf("recorded calls: %+v", calls)
	}
}

func TestLongPollHeldUntilInjection(t *testing.T) {
	srv, bot := start(t, telegramtest.Options{LongPollCap: 10 * time.Second})
	owner := srv.NewUser("Olga")
	group := srv.NewSupergroup("Mods", owner)

	type result struct {
		ups []tgbotapi.Update
		err error
		dur time.Duration
	}
	done := make(chan result, 1)
	go func() {
		t0 := time.Now()
		ups, err := bot.GetUpdates(tgbotapi.UpdateConfig{Timeout: 30})
		done <- result{ups, err, time.Since(t0)}
	}()
	if calls := srv.WaitPolling(1, 2*time.Second); len(calls) != 1 || calls[0].Timeout != 30 {
		t.Fatalf("poll not seen: %+v", calls)
	}
	time.Sleep(100 * time.Millisecond)
	select {
	case r := <-done:
		t.Fatalf("poll returned early: %+v", r)
	default:
	}
	srv.Message(group, owner, "wake up")
	r := <-done
	if r.err != nil || len(r.ups) != 1 || r.ups[0].Message.Text != "wake up" || r.dur > 3*time.Second {
		t.Fatalf("held poll: %+v", r)
	}

	// The cap bounds the hold: an empty poll returns after it.
	srv2, bot2 := start(t, telegramtest.Options{LongPollCap: 150 * time.Millisecond})
	_ = srv2
	t0 := time.Now()
	ups, err := bot2.GetUpdates(tgbotapi.UpdateConfig{Timeout: 50})
	if err != nil || len(ups) != 0 || time.Since(t0) > 2*time.Second || time.Since(t0) < 100*time.Millisecond {
		t.Fatalf("capped poll: %v %v after %v", ups, err, time.Since(t0))
	}
}

func TestConcurrentPollsConflict(t *testing.T) {
	srv, bot := start(t, telegramtest.Options{LongPollCap: 5 * time.Second})
	errc := make(chan error, 1)
	go func() {
		_, err := bot.GetUpdates(tgbotapi.UpdateConfig{Timeout: 5})
		errc <- err
	}()
	srv.WaitPolling(1, 2*time.Second)
	go func() { _, _ = bot.GetUpdates(tgbotapi.UpdateConfig{Timeout: 1}) }()
	err := <-errc
	if e := apiErr(t, err); e.Code != 409 || !strings.Contains(e.Message, "terminated by other getUpdates request") {
		t.Fatalf("first poll: %+v", e)
	}
}

func TestAllowedUpdatesAndChatMemberViaUpdatesChan(t *testing.T) {
	srv, bot := start(t, telegramtest.Options{LongPollCap: 500 * time.Millisecond})
	owner := srv.NewUser("Olga")
	group := srv.NewSupergroup("Mods", owner)
	newbie := srv.NewUser("Nick")

	// Before the bot subscribes, Telegram's default excludes chat_member.
	early := srv.JoinMember(group, newbie)
	if early[0].UpdateID != 0 || early[1].UpdateID == 0 {
		t.Fatalf("default subscription: chat_member %d, message %d", early[0].UpdateID, early[1].UpdateID)
	}
	if d := srv.Dropped(); len(d) != 1 || !strings.Contains(d[0].Reason, "allowed_updates") {
		t.Fatalf("dropped = %+v", d)
	}

	ch := bot.GetUpdatesChan(tgbotapi.UpdateConfig{Timeout: 1, AllowedUpdates: []string{"message", "chat_member", "my_chat_member"}})
	defer bot.StopReceivingUpdates()
	calls := srv.WaitPolling(1, 2*time.Second)
	if len(calls) == 0 || strings.Join(calls[0].AllowedUpdates, ",") != "message,chat_member,my_chat_member" {
		t.Fatalf("getUpdates calls: %+v", calls)
	}
	next := func() tgbotapi.Update {
		t.Helper()
		select {
		case u := <-ch:
			return u
		case <-time.After(3 * time.Second):
			t.Fatal("no update")
		}
		return tgbotapi.Update{}
	}
	if u := next(); u.Message == nil || len(u.Message.NewChatMembers) != 1 {
		t.Fatalf("first update: %+v", u)
	}

	other := srv.NewUser("Mia")
	srv.JoinMember(group, other, telegramtest.JoinOptions{InviteLink: "https://t.me/+AbCdEfGhIjKlMnOp"})
	u := next()
	if u.ChatMember == nil || u.ChatMember.OldChatMember.Status != "left" || u.ChatMember.NewChatMember.Status != "member" ||
		u.ChatMember.From.ID != other.ID || u.ChatMember.InviteLink == nil || u.ChatMember.InviteLink.InviteLink != "https://t.me/+AbCd..." {
		t.Fatalf("chat_member: %+v", u.ChatMember)
	}
	if u := next(); u.Message == nil || u.Message.NewChatMembers[0].ID != other.ID || u.Message.From.ID != other.ID {
		t.Fatalf("service message: %+v", u.Message)
	}
	// Updates are confirmed by GetUpdatesChan's next offset.
	if !srv.WaitUpdatesConsumed(3 * time.Second) {
		t.Fatalf("pending: %+v", srv.PendingUpdates())
	}
}

func TestChatMemberNeedsAdminBot(t *testing.T) {
	srv, _ := start(t, telegramtest.Options{AllowedUpdates: []string{"chat_member", "message"}})
	owner := srv.NewUser("Olga")
	group := srv.NewChat(telegramtest.ChatSpec{Type: telegramtest.ChatSupergroup, Title: "g", Owner: owner})
	ups := srv.JoinMember(group, srv.NewUser("Nick"))
	if ups[0].UpdateID != 0 {
		t.Fatal("chat_member delivered to a non-admin bot")
	}
	if d := srv.Dropped(); len(d) != 1 || !strings.Contains(d[0].Reason, "administrators") {
		t.Fatalf("dropped: %+v", d)
	}
}

func TestSendMessageHTMLValidation(t *testing.T) {
	srv, bot := start(t, telegramtest.Options{})
	owner := srv.NewUser("Olga")
	group := srv.NewSupergroup("Mods", owner)

	msg := tgbotapi.NewMessage(group.ID, `<b>Ban</b> of <a href="tg://user?id=`+strconv.FormatInt(owner.ID, 10)+`">Olga</a> &amp; <code>id&lt;1&gt;</code> <span class="tg-spoiler">x</span> <blockquote expandable>q</blockquote>`)
	msg.ParseMode = tgbotapi.ModeHTML
	sent, err := bot.Send(msg)
	if err != nil {
		t.Fatal(err)
	}
	if sent.Text != "Ban of Olga & id<1> x q" {
		t.Fatalf("text = %q", sent.Text)
	}
	types := []string{}
	for _, e := range sent.Entities {
		types = append(types, e.Type)
	}
	if strings.Join(types, ",") != "bold,text_mention,code,spoiler,expandable_blockquote" {
		t.Fatalf("entities = %v", types)
	}
	if got := srv.Messages(group.ID); len(got) != 1 || got[0].ParseMode != "HTML" || got[0].RawText != msg.Text || got[0].MessageID != sent.MessageID {
		t.Fatalf("stored = %+v", got)
	}

	cases := map[string]string{
		"<foo>x</foo>":    `Bad Request: can't parse entities: Unsupported start tag "foo" at byte offset 0`,
		"<b>open":         `Bad Request: can't parse entities: Can't find end tag corresponding to start tag "b"`,
		"<b><i>x</b></i>": `Bad Request: can't parse entities: Unmatched end tag at byte offset 7, expected "</i>", found "</b>"`,
		"a < b":           `Bad Request: can't parse entities: Unsupported start tag "" at byte offset 2`,
		"AT&T":            `Bad Request: can't parse entities: Character '&' at byte offset 2 does not start an HTML entity; it must be escaped as "&amp;"`,
		"<b></b>  ":       `Bad Request: message text is empty`,
	}
	for text, want := range cases {
		m := tgbotapi.NewMessage(group.ID, text)
		m.ParseMode = tgbotapi.ModeHTML
		_, err := bot.Send(m)
		if e := apiErr(t, err); e.Code != 400 || e.Message != want {
			t.Errorf("%q: got %d %q, want %q", text, e.Code, e.Message, want)
		}
	}

	// Length is measured after entity parsing, in UTF-16 code units.
	ok := tgbotapi.NewMessage(group.ID, "<b>"+strings.Repeat("a", 4096)+"</b>")
	ok.ParseMode = tgbotapi.ModeHTML
	if _, err := bot.Send(ok); err != nil {
		t.Fatalf("4096 after parsing: %v", err)
	}
	if _, err := bot.Send(tgbotapi.NewMessage(group.ID, strings.Repeat("😀", 2048))); err != nil {
		t.Fatalf("2048 emoji = 4096 units: %v", err)
	}
	_, err = bot.Send(tgbotapi.NewMessage(group.ID, strings.Repeat("😀", 2048)+"!"))
	if e := apiErr(t, err); e.Code != 400 || e.Message != "Bad Request: message is too long" {
		t.Fatalf("too long: %+v", e)
	}
	long := tgbotapi.NewMessage(group.ID, strings.Repeat("&lt;", 4097))
	long.ParseMode = tgbotapi.ModeHTML
	if _, err := bot.Send(long); err == nil {
		t.Fatal("4097 characters after parsing accepted")
	}
}

func TestMarkdownV2Validation(t *testing.T) {
	srv, bot := start(t, telegramtest.Options{})
	chat := srv.PrivateChat(srv.NewUser("Olga"))
	m := tgbotapi.NewMessage(chat.ID, "*bold* _it_ done\\.")
	m.ParseMode = tgbotapi.ModeMarkdownV2
	sent, err := bot.Send(m)
	if err != nil || sent.Text != "bold it done." || len(sent.Entities) != 2 {
		t.Fatalf("sent %+v err %v", sent, err)
	}
	bad := tgbotapi.NewMessage(chat.ID, "v1.2")
	bad.ParseMode = tgbotapi.ModeMarkdownV2
	_, err = bot.Send(bad)
	if e := apiErr(t, err); e.Message != `Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\'` {
		t.Fatalf("reserved char: %q", e.Message)
	}
	// tgbotapi's EscapeText produces text the server accepts.
	esc := tgbotapi.NewMessage(chat.ID, tgbotapi.EscapeText(tgbotapi.ModeMarkdownV2, "v1.2 (beta) #1 a_b *c*"))
	esc.ParseMode = tgbotapi.ModeMarkdownV2
	if sent, err := bot.Send(esc); err != nil || sent.Text != "v1.2 (beta) #1 a_b *c*" {
		t.Fatalf("escaped: %q %v", sent.Text, err)
	}
}

func TestInlineKeyboardCallbackRoundTrip(t *testing.T) {
	srv, bot := start(t, telegramtest.Options{})
	owner := srv.NewUser("Olga")
	group := srv.NewSupergroup("Mods", owner)

	m := tgbotapi.NewMessage(group.ID, "Ban Nick?")
	m.ReplyMarkup = tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(
		tgbotapi.NewInlineKeyboardButtonData("Yes", "ban:42"),
		tgbotapi.NewInlineKeyboardButtonURL("Rules", "https://example.com/rules"),
	))
	sent, err := bot.Send(m)
	if err != nil || sent.ReplyMarkup == nil || *sent.ReplyMarkup.InlineKeyboard[0][0].CallbackData != "ban:42" {
		t.Fatalf("send: %+v %v", sent, err)
	}
	if _, err := srv.PressButton(group, owner, sent.MessageID, "nope"); err == nil {
		t.Fatal("pressing a missing button succeeded")
	}
	cb, err := srv.PressButton(group, owner, sent.MessageID, "ban:42")
	if err != nil {
		t.Fatal(err)
	}
	ups, err := bot.GetUpdates(tgbotapi.UpdateConfig{})
	if err != nil || len(ups) != 1 || ups[0].CallbackQuery == nil {
		t.Fatalf("updates %+v %v", ups, err)
	}
	q := ups[0].CallbackQuery
	if q.ID != cb.ID || q.Data != "ban:42" || q.From.ID != owner.ID || q.Message.MessageID != sent.MessageID || q.ChatInstance == "" {
		t.Fatalf("callback query: %+v", q)
	}
	if _, ok := cb.Answer(); ok {
		t.Fatal("answered before the bot answered")
	}
	if _, err := bot.Request(tgbotapi.NewCallbackWithAlert(q.ID, "Banned")); err != nil {
		t.Fatal(err)
	}
	ans, ok := cb.Wait(time.Second)
	if !ok || ans.Text != "Banned" || !ans.ShowAlert {
		t.Fatalf("answer %+v %v", ans, ok)
	}
	_, err = bot.Request(tgbotapi.NewCallback(q.ID, "again"))
	if e := apiErr(t, err); e.Message != "Bad Request: query is too old and response timeout expired or query ID is invalid" {
		t.Fatalf("second answer: %+v", e)
	}
	_, err = bot.Request(tgbotapi.NewCallback("123", ""))
	if err == nil {
		t.Fatal("unknown callback id accepted")
	}

	// Editing without reply_markup removes the keyboard, as Telegram does.
	edited, err := bot.Send(tgbotapi.NewEditMessageText(group.ID, sent.MessageID, "Nick banned"))
	if err != nil || edited.ReplyMarkup != nil || edited.EditDate == 0 {
		t.Fatalf("edit: %+v %v", edited, err)
	}
	_, err = bot.Send(tgbotapi.NewEditMessageText(group.ID, sent.MessageID, "Nick banned"))
	if e := apiErr(t, err); !strings.HasPrefix(e.Message, "Bad Request: message is not modified") {
		t.Fatalf("not modified: %+v", e)
	}
}

func TestBanViaClientProducesChatMemberUpdate(t *testing.T) {
	srv, bot := start(t, telegramtest.Options{AllowedUpdates: []string{"message", "chat_member"}})
	owner := srv.NewUser("Olga")
	spammer := srv.NewUser("Spam")
	group := srv.NewSupergroup("Mods", owner, spammer)
	spam := srv.Message(group, spammer, "buy now http://spam.example.com")
	if spam.Message.Entities[0].Type != "url" {
		t.Fatalf("entities: %+v", spam.Message.Entities)
	}
	first, _ := bot.GetUpdates(tgbotapi.UpdateConfig{})
	offset := first[len(first)-1].UpdateID + 1

	cfg := tgbotapi.BanChatMemberConfig{ChatMemberConfig: tgbotapi.ChatMemberConfig{ChatID: group.ID, UserID: spammer.ID}, RevokeMessages: true}
	if _, err := bot.Request(cfg); err != nil {
		t.Fatal(err)
	}
	if m := srv.ChatMember(group.ID, spammer.ID); m.Status != telegramtest.StatusKicked || m.UntilDate != 0 {
		t.Fatalf("member after ban: %+v", m)
	}
	if _, ok := srv.MessageByID(group.ID, spam.Message.MessageID); ok {
		t.Fatal("revoke_messages kept the spam")
	}
	ups, _ := bot.GetUpdates(tgbotapi.UpdateConfig{Offset: offset})
	if len(ups) != 1 || ups[0].ChatMember == nil {
		t.Fatalf("updates after ban: %+v", ups)
	}
	cm := ups[0].ChatMember
	if cm.From.ID != bot.Self.ID || cm.OldChatMember.Status != "member" || cm.NewChatMember.Status != "kicked" || cm.NewChatMember.User.ID != spammer.ID {
		t.Fatalf("chat_member: %+v", cm)
	}
	got, err := bot.GetChatMember(tgbotapi.GetChatMemberConfig{ChatConfigWithUser: tgbotapi.ChatConfigWithUser{ChatID: group.ID, UserID: spammer.ID}})
	if err != nil || !got.WasKicked() {
		t.Fatalf("getChatMember: %+v %v", got, err)
	}
	// Unbanning a member without only_if_banned removes them; with it, nothing happens.
	if _, err := bot.Request(tgbotapi.UnbanChatMemberConfig{ChatMemberConfig: tgbotapi.ChatMemberConfig{ChatID: group.ID, UserID: spammer.ID}, OnlyIfBanned: true}); err != nil {
		t.Fatal(err)
	}
	if m := srv.ChatMember(group.ID, spammer.ID); m.Status != telegramtest.StatusLeft {
		t.Fatalf("after unban: %+v", m)
	}

	// Without can_restrict_members the bot is refused.
	plain := srv.NewChat(telegramtest.ChatSpec{Type: telegramtest.ChatSupergroup, Owner: owner, Members: []telegramtest.User{spammer}})
	_, err = bot.Request(tgbotapi.BanChatMemberConfig{ChatMemberConfig: tgbotapi.ChatMemberConfig{ChatID: plain.ID, UserID: spammer.ID}})
	if e := apiErr(t, err); e.Message != "Bad Request: not enough rights to restrict/unrestrict chat member" {
		t.Fatalf("no rights: %+v", e)
	}
	// The owner can't be banned.
	_, err = bot.Request(tgbotapi.BanChatMemberConfig{ChatMemberConfig: tgbotapi.ChatMemberConfig{ChatID: group.ID, UserID: owner.ID}})
	if e := apiErr(t, err); e.Message != "Bad Request: can't remove chat owner" {
		t.Fatalf("ban owner: %+v", e)
	}
}

func TestRestrictPromoteAndMemberShapes(t *testing.T) {
	srv, bot := start(t, telegramtest.Options{})
	owner := srv.NewUser("Olga")
	user := srv.NewUser("Nick")
	full := telegramtest.FullAdminRights()
	group := srv.NewChat(telegramtest.ChatSpec{Type: telegramtest.ChatSupergroup, Owner: owner, Members: []telegramtest.User{user}, BotRights: &full})

	until := srv.Now().Add(time.Hour).Unix()
	_, err := bot.Request(tgbotapi.RestrictChatMemberConfig{
		ChatMemberConfig: tgbotapi.ChatMemberConfig{ChatID: group.ID, UserID: user.ID},
		UntilDate:        until,
		Permissions:      &tgbotapi.ChatPermissions{CanSendMessages: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := bot.MakeRequest("getChatMember", tgbotapi.Params{"chat_id": strconv.FormatInt(group.ID, 10), "user_id": strconv.FormatInt(user.ID, 10)})
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	_ = json.Unmarshal(resp.Result, &raw)
	if raw["status"] != "restricted" || raw["is_member"] != true || raw["can_send_messages"] != true ||
		raw["can_send_audios"] != false || raw["until_date"] != float64(until) {
		t.Fatalf("restricted member JSON: %v", raw)
	}
	if _, has := raw["can_send_media_messages"]; has {
		t.Fatal("legacy can_send_media_messages present in Bot API 7 shape")
	}
	// Restriction expires with the fake clock.
	srv.Advance(2 * time.Hour)
	if m := srv.ChatMember(group.ID, user.ID); m.Status != telegramtest.StatusMember {
		t.Fatalf("after expiry: %+v", m)
	}

	if _, err := bot.Request(tgbotapi.PromoteChatMemberConfig{ChatMemberConfig: tgbotapi.ChatMemberConfig{ChatID: group.ID, UserID: user.ID},
		CanDeleteMessages: true, CanRestrictMembers: true}); err != nil {
		t.Fatal(err)
	}
	admins, err := bot.GetChatAdministrators(tgbotapi.ChatAdministratorsConfig{ChatConfig: tgbotapi.ChatConfig{ChatID: group.ID}})
	if err != nil || len(admins) != 3 || !admins[0].IsCreator() {
		t.Fatalf("admins: %+v %v", admins, err)
	}
	for _, a := range admins[1:] {
		if a.User.ID == user.ID && (!a.CanRestrictMembers || !a.CanBeEdited || !a.CanManageChat) {
			t.Fatalf("promoted admin: %+v", a)
		}
	}
	count, err := bot.GetChatMembersCount(tgbotapi.ChatMemberCountConfig{ChatConfig: tgbotapi.ChatConfig{ChatID: group.ID}})
	if err != nil || count != 3 {
		t.Fatalf("count %d %v", count, err)
	}

	basic := srv.NewGroup("basic", owner, user)
	_, err = bot.Request(tgbotapi.RestrictChatMemberConfig{ChatMemberConfig: tgbotapi.ChatMemberConfig{ChatID: basic.ID, UserID: user.ID}, Permissions: &tgbotapi.ChatPermissions{}})
	if e := apiErr(t, err); e.Message != "Bad Request: method is available only for supergroups" {
		t.Fatalf("restrict in basic group: %+v", e)
	}
}

func TestRetryAfterAndFaults(t *testing.T) {
	srv, bot := start(t, telegramtest.Options{})
	chat := srv.PrivateChat(srv.NewUser("Olga"))

	srv.Inject429("sendMessage", 1, 7)
	_, err := bot.Send(tgbotapi.NewMessage(chat.ID, "hi"))
	e := apiErr(t, err)
	if e.Code != 429 || e.RetryAfter != 7 || e.Message != "Too Many Requests: retry after 7" {
		t.Fatalf("429: %+v", e)
	}
	if _, err := bot.Send(tgbotapi.NewMessage(chat.ID, "hi")); err != nil {
		t.Fatalf("after the injected 429: %v", err)
	}
	if n := len(srv.RateLimitViolations()); n != 0 {
		t.Fatalf("injected faults counted as violations: %d", n)
	}

	// Multipart uploads report API errors without Code (a tgbotapi quirk).
	srv.Inject429("sendDocument", 1, 3)
	_, err = bot.Send(tgbotapi.NewDocument(chat.ID, tgbotapi.FileBytes{Name: "a.txt", Bytes: []byte("x")}))
	if e := apiErr(t, err); e.Code != 0 || e.RetryAfter != 3 {
		t.Fatalf("upload 429: %+v", e)
	}

	srv.Inject5xx("sendMessage", 1, 502)
	_, err = bot.Send(tgbotapi.NewMessage(chat.ID, "hi"))
	var te *tgbotapi.Error
	if err == nil || errors.As(err, &te) {
		t.Fatalf("502 HTML should be a decode error, got %v", err)
	}
	srv.Inject5xxJSON("sendMessage", 1, 500)
	_, err = bot.Send(tgbotapi.NewMessage(chat.ID, "hi"))
	if e := apiErr(t, err); e.Code != 500 {
		t.Fatalf("500 JSON: %+v", e)
	}
	srv.FailGetUpdates(1)
	if _, err := bot.GetUpdates(tgbotapi.UpdateConfig{}); err == nil {
		t.Fatal("FailGetUpdates had no effect")
	}
	if _, err := bot.GetUpdates(tgbotapi.UpdateConfig{}); err != nil {
		t.Fatalf("second poll: %v", err)
	}
	srv.InjectError("*", 1, 403, "Forbidden: bot was blocked by the user")
	_, err = bot.GetMe()
	if e := apiErr(t, err); e.Code != 403 {
		t.Fatalf("InjectError: %+v", e)
	}
}

func TestPacingViolations(t *testing.T) {
	srv, bot := start(t, telegramtest.Options{Limits: telegramtest.Limits{
		PerChatInterval: time.Hour, PerChatBurst: 2, GroupMessages: 3, GroupWindow: time.Hour,
	}})
	owner := srv.NewUser("Olga")
	group := srv.NewSupergroup("Mods", owner)
	for i := 0; i < 2; i++ {
		if _, err := bot.Send(tgbotapi.NewMessage(group.ID, "ok")); err != nil {
			t.Fatalf("burst message %d: %v", i, err)
		}
	}
	_, err := bot.Send(tgbotapi.NewMessage(group.ID, "too fast"))
	if e := apiErr(t, err); e.Code != 429 || e.RetryAfter < 1 {
		t.Fatalf("over the per-chat limit: %+v", e)
	}
	v := srv.RateLimitViolations()
	if len(v) != 1 || v[0].Limit != telegramtest.LimitPerChat || v[0].ChatID != group.ID || v[0].Method != "sendMessage" {
		t.Fatalf("violations: %+v", v)
	}
	if n := len(srv.Messages(group.ID)); n != 2 {
		t.Fatalf("rejected message stored: %d", n)
	}

	// The per-group window, with the per-chat bucket out of the way.
	srv2, bot2 := start(t, telegramtest.Options{Limits: telegramtest.Limits{PerChatInterval: -1, GroupMessages: 3, GroupWindow: time.Hour}})
	g2 := srv2.NewSupergroup("g", srv2.NewUser("Olga"))
	for i := 0; i < 4; i++ {
		_, err = bot2.Send(tgbotapi.NewMessage(g2.ID, "x"))
	}
	if e := apiErr(t, err); e.Code != 429 {
		t.Fatalf("group limit: %+v", e)
	}
	if v := srv2.RateLimitViolations(); len(v) != 1 || v[0].Limit != telegramtest.LimitGroup || v[0].RetryAfter < 3000 {
		t.Fatalf("group violations: %+v", v)
	}
}

func TestMigrationError(t *testing.T) {
	srv, bot := start(t, telegramtest.Options{})
	owner := srv.NewUser("Olga")
	group := srv.NewGroup("Old", owner)
	super, ups, err := srv.MigrateToSupergroup(group, owner)
	if err != nil || len(ups) != 2 || ups[0].Message.MigrateToChatID != super.ID || ups[1].Message.MigrateFromChatID != group.ID {
		t.Fatalf("migration: %+v %v", ups, err)
	}
	if !strings.HasPrefix(strconv.FormatInt(super.ID, 10), "-100") || super.Type != "supergroup" {
		t.Fatalf("supergroup id %d", super.ID)
	}
	_, err = bot.Send(tgbotapi.NewMessage(group.ID, "hello"))
	e := apiErr(t, err)
	if e.Code != 400 || e.MigrateToChatID != super.ID || e.Message != "Bad Request: group chat was upgraded to a supergroup chat" {
		t.Fatalf("migrate error: %+v", e)
	}
	if _, err := bot.Send(tgbotapi.NewMessage(e.MigrateToChatID, "hello")); err != nil {
		t.Fatalf("send to the supergroup: %v", err)
	}
	if m := srv.ChatMember(super.ID, owner.ID); m.Status != telegramtest.StatusCreator {
		t.Fatalf("owner moved: %+v", m)
	}
	got, _ := bot.GetUpdates(tgbotapi.UpdateConfig{})
	if len(got) != 2 || got[0].Message.MigrateToChatID != super.ID || got[1].Message.MigrateFromChatID != group.ID {
		t.Fatalf("updates: %+v", got)
	}
}

// A topic's rename arrives as Telegram sends it: a service message in the
// topic with forum_topic_edited naming only what changed, replying to the
// topic's creation message, which keeps the first name.
func TestRawGetUpdatesForumTopicEdited(t *testing.T) {
	srv, bot := start(t, telegramtest.Options{})
	owner := srv.NewUser("Olga")
	forum := srv.NewForum("Forum", owner)
	thread := srv.ForumTopicCreated(forum, owner, "Appeals").Message.MessageThreadID
	srv.ForumTopicEdited(forum, owner, thread, "Complaints")

	resp, err := bot.MakeRequest("getUpdates", tgbotapi.Params{"timeout": "0"})
	if err != nil {
		t.Fatal(err)
	}
	var ups []struct {
		Message struct {
			MessageThreadID  int             `json:"message_thread_id"`
			IsTopicMessage   bool            `json:"is_topic_message"`
			ForumTopicEdited json.RawMessage `json:"forum_topic_edited"`
			From             *struct {
				ID int64 `json:"id"`
			} `json:"from"`
			ReplyToMessage *struct {
				MessageID         int `json:"message_id"`
				ForumTopicCreated *struct {
					Name string `json:"name"`
				} `json:"forum_topic_created"`
			} `json:"reply_to_message"`
		} `json:"message"`
	}
	if err := json.Unmarshal(resp.Result, &ups); err != nil || len(ups) != 2 {
		t.Fatalf("decode %v: %s", err, resp.Result)
	}
	ed := ups[1].Message
	if string(ed.ForumTopicEdited) != `{"name":"Complaints"}` || ed.MessageThreadID != thread || !ed.IsTopicMessage ||
		ed.From == nil || ed.From.ID != owner.ID {
		t.Fatalf("the edit: %+v (%s)", ed, ed.ForumTopicEdited)
	}
	if r := ed.ReplyToMessage; r == nil || r.MessageID != thread || r.ForumTopicCreated == nil || r.ForumTopicCreated.Name != "Appeals" {
		t.Fatalf("the edit replies to %+v", ed.ReplyToMessage)
	}
}

func TestRawGetUpdatesForumTopicFields(t *testing.T) {
	srv, bot := start(t, telegramtest.Options{})
	owner := srv.NewUser("Olga")
	forum := srv.NewForum("Forum", owner)
	created := srv.ForumTopicCreated(forum, owner, "Appeals")
	thread := created.Message.MessageThreadID
	srv.TopicMessage(forum, owner, thread, "/logs 5")

	resp, err := bot.MakeRequest("getUpdates", tgbotapi.Params{"timeout": "0"})
	if err != nil {
		t.Fatal(err)
	}
	var ups []struct {
		UpdateID int `json:"update_id"`
		Message  struct {
			MessageID         int  `json:"message_id"`
			MessageThreadID   int  `json:"message_thread_id"`
			IsTopicMessage    bool `json:"is_topic_message"`
			ForumTopicCreated *struct {
				Name      string `json:"name"`
				IconColor int    `json:"icon_color"`
			} `json:"forum_topic_created"`
			Chat struct {
				IsForum bool `json:"is_forum"`
			} `json:"chat"`
			ReplyToMessage *struct {
				MessageID int `json:"message_id"`
			} `json:"reply_to_message"`
			Entities []struct {
				Type string `json:"type"`
			} `json:"entities"`
		} `json:"message"`
	}
	if err := json.Unmarshal(resp.Result, &ups); err != nil || len(ups) != 2 {
		t.Fatalf("decode %v: %s", err, resp.Result)
	}
	topic, msg := ups[0].Message, ups[1].Message
	if topic.ForumTopicCreated == nil || topic.ForumTopicCreated.Name != "Appeals" || topic.ForumTopicCreated.IconColor == 0 ||
		topic.MessageThreadID != topic.MessageID || !topic.IsTopicMessage || !topic.Chat.IsForum {
		t.Fatalf("topic creation: %+v", topic)
	}
	if msg.MessageThreadID != thread || !msg.IsTopicMessage || msg.ReplyToMessage == nil || msg.ReplyToMessage.MessageID != thread ||
		len(msg.Entities) != 1 || msg.Entities[0].Type != "bot_command" {
		t.Fatalf("topic message: %+v", msg)
	}

	// The bot answers in the topic with the raw parameter tgbotapi lacks.
	res, err := bot.MakeRequest("sendMessage", tgbotapi.Params{"chat_id": strconv.FormatInt(forum.ID, 10),
		"message_thread_id": strconv.Itoa(thread), "text": "5 entries",
		"link_preview_options": `{"is_disabled":true}`, "reply_parameters": `{"message_id":` + strconv.Itoa(msg.MessageID) + `}`})
	if err != nil {
		t.Fatal(err)
	}
	var sent map[string]any
	_ = json.Unmarshal(res.Result, &sent)
	if sent["message_thread_id"] != float64(thread) || sent["is_topic_message"] != true {
		t.Fatalf("sent: %v", sent)
	}
	_, err = bot.MakeRequest("sendMessage", tgbotapi.Params{"chat_id": strconv.FormatInt(forum.ID, 10), "message_thread_id": "999", "text": "x"})
	if e := apiErr(t, err); e.Message != "Bad Request: message thread not found" {
		t.Fatalf("unknown thread: %+v", e)
	}
	if s := srv.Messages(forum.ID); len(s) != 1 || s[0].RequestedThread != thread || !s[0].LinkPreviewOff {
		t.Fatalf("stored: %+v", s)
	}
}

func TestDeleteMessageRules(t *testing.T) {
	srv, bot := start(t, telegramtest.Options{FrozenClock: true, StartTime: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)})
	owner := srv.NewUser("Olga")
	user := srv.NewUser("Nick")
	group := srv.NewSupergroup("Mods", owner, user)
	fresh := srv.Message(group, user, "fresh")
	if fresh.Message.Date != srv.Now().Unix() {
		t.Fatalf("date %d, fake now %d", fresh.Message.Date, srv.Now().Unix())
	}
	if _, err := bot.Request(tgbotapi.NewDeleteMessage(group.ID, fresh.Message.MessageID)); err != nil {
		t.Fatalf("delete fresh: %v", err)
	}
	_, err := bot.Request(tgbotapi.NewDeleteMessage(group.ID, fresh.Message.MessageID))
	if e := apiErr(t, err); e.Message != "Bad Request: message to delete not found" {
		t.Fatalf("delete twice: %+v", e)
	}
	old := srv.Message(group, user, "old")
	srv.Advance(49 * time.Hour)
	_, err = bot.Request(tgbotapi.NewDeleteMessage(group.ID, old.Message.MessageID))
	if e := apiErr(t, err); e.Message != "Bad Request: message can't be deleted" {
		t.Fatalf("delete 49h old: %+v", e)
	}
	// tgbotapi's Send can't decode the boolean result of deleteMessage.
	again := srv.Message(group, user, "again")
	if _, err := bot.Send(tgbotapi.NewDeleteMessage(group.ID, again.Message.MessageID)); err == nil {
		t.Fatal("Send decoded a boolean result into a Message")
	}
	if _, ok := srv.MessageByID(group.ID, again.Message.MessageID); ok {
		t.Fatal("the delete behind Send's decode error did not happen")
	}
	// Without can_delete_messages the bot can delete only its own messages.
	plain := srv.NewChat(telegramtest.ChatSpec{Type: telegramtest.ChatSupergroup, Owner: owner, Members: []telegramtest.User{user}})
	theirs := srv.Message(plain, user, "x")
	_, err = bot.Request(tgbotapi.NewDeleteMessage(plain.ID, theirs.Message.MessageID))
	if e := apiErr(t, err); e.Message != "Bad Request: message can't be deleted" {
		t.Fatalf("no rights: %+v", e)
	}
	mine, _ := bot.Send(tgbotapi.NewMessage(plain.ID, "mine"))
	if _, err := bot.Request(tgbotapi.NewDeleteMessage(plain.ID, mine.MessageID)); err != nil {
		t.Fatalf("own message: %v", err)
	}
	if s := srv.Messages(plain.ID); len(s) != 1 || !s[0].Deleted {
		t.Fatalf("sent messages: %+v", s)
	}
	res, err := bot.MakeRequest("deleteMessages", tgbotapi.Params{"chat_id": strconv.FormatInt(group.ID, 10), "message_ids": "[999]"})
	if err != nil || string(res.Result) != "true" {
		t.Fatalf("deleteMessages skips missing ids: %v %s", err, res.Result)
	}
}

func TestWebhookDelivery(t *testing.T) {
	var mu sync.Mutex
	var hits []string
	fail := 1
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		hits = append(hits, r.Header.Get("X-Telegram-Bot-Api-Secret-Token")+" "+string(body))
		if fail > 0 {
			fail--
			w.WriteHeader(500)
			return
		}
		// Answer with a method call in the webhook response.
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"method":"sendMessage","chat_id":`+strings.TrimSpace(r.URL.Query().Get("chat"))+`,"text":"pong"}`)
	}))
	defer hook.Close()

	srv, bot := start(t, telegramtest.Options{})
	owner := srv.NewUser("Olga")
	chat := srv.PrivateChat(owner)
	res, err := bot.MakeRequest("setWebhook", tgbotapi.Params{"url": hook.URL + "/hook?chat=" + strconv.FormatInt(chat.ID, 10), "secret_token": "s3cret"})
	if err != nil || res.Description != "Webhook was set" {
		t.Fatalf("setWebhook %v %+v", err, res)
	}
	_, err = bot.GetUpdates(tgbotapi.UpdateConfig{})
	if e := apiErr(t, err); e.Code != 409 {
		t.Fatalf("getUpdates with webhook: %+v", e)
	}
	srv.Message(chat, owner, "ping")
	if !srv.WaitUpdatesConsumed(3 * time.Second) {
		t.Fatal("update not delivered")
	}
	mu.Lock()
	if len(hits) != 2 || !strings.HasPrefix(hits[1], `s3cret {"update_id":`) || !strings.Contains(hits[1], `"text":"ping"`) {
		t.Fatalf("webhook hits: %q", hits)
	}
	mu.Unlock()
	if d := srv.WebhookDeliveries(); len(d) != 2 || d[0].StatusCode != 500 || d[1].StatusCode != 200 {
		t.Fatalf("deliveries: %+v", d)
	}
	if sent := srv.WaitMessages(chat.ID, 1, 2*time.Second); len(sent) != 1 || sent[0].Text != "pong" {
		t.Fatalf("webhook reply method: %+v", sent)
	}
	info, err := bot.GetWebhookInfo()
	if err != nil || !info.IsSet() || info.LastErrorMessage != "Wrong response from the webhook: 500 Internal Server Error" {
		t.Fatalf("info %+v %v", info, err)
	}
	if _, err := bot.Request(tgbotapi.DeleteWebhookConfig{}); err != nil {
		t.Fatal(err)
	}
	if _, err := bot.GetUpdates(tgbotapi.UpdateConfig{}); err != nil {
		t.Fatalf("polling after deleteWebhook: %v", err)
	}
	_, err = bot.MakeRequest("setWebhook", tgbotapi.Params{"url": "http://example.com/hook"})
	if e := apiErr(t, err); e.Message != "Bad Request: bad webhook: An HTTPS URL must be provided for webhook" {
		t.Fatalf("http webhook: %+v", e)
	}
}

func TestCommandsPerScope(t *testing.T) {
	srv, bot := start(t, telegramtest.Options{})
	group := srv.NewSupergroup("Mods", srv.NewUser("Olga"))
	if _, err := bot.Request(tgbotapi.NewSetMyCommands(tgbotapi.BotCommand{Command: "help", Description: "Show help"})); err != nil {
		t.Fatal(err)
	}
	scope := tgbotapi.NewBotCommandScopeChatAdministrators(group.ID)
	if _, err := bot.Request(tgbotapi.NewSetMyCommandsWithScope(scope, tgbotapi.BotCommand{Command: "logs", Description: "Audit log"})); err != nil {
		t.Fatal(err)
	}
	got, err := bot.GetMyCommandsWithConfig(tgbotapi.NewGetMyCommandsWithScope(scope))
	if err != nil || len(got) != 1 || got[0].Command != "logs" {
		t.Fatalf("scoped commands %+v %v", got, err)
	}
	if def := srv.Commands(telegramtest.BotCommandScope{}, ""); len(def) != 1 || def[0].Command != "help" {
		t.Fatalf("default commands %+v", def)
	}
	if c := srv.Commands(telegramtest.BotCommandScope{Type: "chat_administrators", ChatID: group.ID}, ""); len(c) != 1 {
		t.Fatalf("accessor: %+v", c)
	}
	_, err = bot.Request(tgbotapi.NewSetMyCommands(tgbotapi.BotCommand{Command: "Bad-Name", Description: "x"}))
	if e := apiErr(t, err); e.Message != "Bad Request: BOT_COMMAND_INVALID" {
		t.Fatalf("invalid command: %+v", e)
	}
	if _, err := bot.Request(tgbotapi.NewDeleteMyCommandsWithScope(scope)); err != nil {
		t.Fatal(err)
	}
	if c := srv.CommandSets(); len(c) != 1 || c[0].Scope.Type != "default" || c[0].Commands[0].Command != "help" {
		t.Fatalf("command sets left: %+v", c)
	}
}

func TestMalformedRequestsGetTelegramErrors(t *testing.T) {
	srv, bot := start(t, telegramtest.Options{})
	group := srv.NewSupergroup("Mods", srv.NewUser("Olga"))
	gid := strconv.FormatInt(group.ID, 10)
	cases := []struct {
		method string
		params tgbotapi.Params
		want   string
	}{
		{"sendMessage", tgbotapi.Params{"chat_id": "abc", "text": "x"}, "Bad Request: chat not found"},
		{"sendMessage", tgbotapi.Params{"text": "x"}, "Bad Request: chat_id is empty"},
		{"sendMessage", tgbotapi.Params{"chat_id": "-1009", "text": "x"}, "Bad Request: chat not found"},
		{"sendMessage", tgbotapi.Params{"chat_id": gid}, "Bad Request: message text is empty"},
		{"sendMessage", tgbotapi.Params{"chat_id": gid, "text": "x", "reply_markup": "{bad"}, "Bad Request: can't parse reply keyboard markup JSON object"},
		{"sendMessage", tgbotapi.Params{"chat_id": gid, "text": "x", "reply_markup": `{"inline_keyboard":[[{"text":"t"}]]}`}, "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"},
		{"sendMessage", tgbotapi.Params{"chat_id": gid, "text": "x", "reply_markup": `{"inline_keyboard":[[{"text":"t","callback_data":"` + strings.Repeat("d", 65) + `"}]]}`}, "Bad Request: BUTTON_DATA_INVALID"},
		{"sendMessage", tgbotapi.Params{"chat_id": gid, "text": "x", "parse_mode": "html5"}, "Bad Request: unsupported parse_mode"},
		{"sendMessage", tgbotapi.Params{"chat_id": gid, "text": "x", "reply_to_message_id": "77"}, "Bad Request: message to be replied not found"},
		{"restrictChatMember", tgbotapi.Params{"chat_id": gid, "user_id": "1", "permissions": "{"}, "Bad Request: user not found"},
		{"restrictChatMember", tgbotapi.Params{"chat_id": gid, "user_id": "x"}, "Bad Request: invalid user_id specified"},
		{"deleteMessages", tgbotapi.Params{"chat_id": gid, "message_ids": "nope"}, "Bad Request: can't parse message identifiers JSON object"},
		{"setMyCommands", tgbotapi.Params{"commands": "[]", "scope": `{"type":"chat"}`}, "Bad Request: chat_id is empty"},
		{"answerCallbackQuery", nil, "Bad Request: query is too old and response timeout expired or query ID is invalid"},
	}
	for _, c := range cases {
		_, err := bot.MakeRequest(c.method, c.params)
		if e := apiErr(t, err); e.Code != 400 || e.Message != c.want {
			t.Errorf("%s %v: got %d %q, want %q", c.method, c.params, e.Code, e.Message, c.want)
		}
	}
	// reply_to_message_id with allow_sending_without_reply goes through.
	if _, err := bot.MakeRequest("sendMessage", tgbotapi.Params{"chat_id": gid, "text": "x", "reply_to_message_id": "77", "allow_sending_without_reply": "true"}); err != nil {
		t.Fatal(err)
	}
	// A JSON body is accepted like a form.
	resp, err := http.Post(srv.URL+"/bot"+srv.Token()+"/sendMessage", "application/json",
		strings.NewReader(`{"chat_id":`+gid+`,"text":"json body","reply_markup":{"inline_keyboard":[[{"text":"ok","callback_data":"1"}]]}}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("JSON body: %v %v", resp, err)
	}
	resp.Body.Close()
	if s := srv.Messages(group.ID); s[len(s)-1].ReplyMarkup == nil {
		t.Fatalf("JSON reply_markup lost: %+v", s[len(s)-1])
	}
	// Garbage bodies don't crash the server.
	resp, err = http.Post(srv.URL+"/bot"+srv.Token()+"/sendMessage", "application/json", strings.NewReader(`{"chat_id":`))
	if err != nil || resp.StatusCode != 400 {
		t.Fatalf("broken JSON: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Post(srv.URL+"/bot"+srv.Token()+"/sendDocument", "multipart/form-data", strings.NewReader("junk"))
	if err != nil || resp.StatusCode != 400 {
		t.Fatalf("broken multipart: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestSendDocumentAndDownload(t *testing.T) {
	srv, bot := start(t, telegramtest.Options{Limits: telegramtest.Limits{Disabled: true}})
	owner := srv.NewUser("Olga")
	chat := srv.PrivateChat(owner)
	doc := tgbotapi.NewDocument(chat.ID, tgbotapi.FileBytes{Name: "audit.csv", Bytes: []byte("a,b\n1,2\n")})
	doc.Caption = "<b>Audit</b> log"
	doc.ParseMode = tgbotapi.ModeHTML
	sent, err := bot.Send(doc)
	if err != nil || sent.Document == nil || sent.Document.FileName != "audit.csv" || sent.Caption != "Audit log" || sent.Document.FileSize != 8 {
		t.Fatalf("sendDocument: %+v %v", sent, err)
	}
	stored := srv.Messages(chat.ID)
	if len(stored) != 1 || stored[0].File == nil || string(stored[0].File.Data) != "a,b\n1,2\n" || stored[0].Method != "sendDocument" {
		t.Fatalf("stored: %+v", stored)
	}
	link, err := bot.GetFileDirectURL(sent.Document.FileID)
	if err != nil {
		t.Fatal(err)
	}
	// tgbotapi builds download links for api.telegram.org; point it at the fake.
	link = strings.Replace(link, "https://api.telegram.org", srv.URL, 1)
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "a,b\n1,2\n" {
		t.Fatalf("download: %q", body)
	}
	// Re-sending by file_id works without an upload.
	if _, err := bot.Send(tgbotapi.NewDocument(chat.ID, tgbotapi.FileID(sent.Document.FileID))); err != nil {
		t.Fatalf("by file_id: %v", err)
	}
	// Audit logs often copy the offending message somewhere.
	msg := srv.Message(chat, owner, "evidence")
	if _, err := bot.CopyMessage(tgbotapi.NewCopyMessage(chat.ID, chat.ID, msg.Message.MessageID)); err != nil {
		t.Fatal(err)
	}
	fw, err := bot.Send(tgbotapi.NewForward(chat.ID, chat.ID, msg.Message.MessageID))
	if err != nil || fw.ForwardFrom == nil || fw.ForwardFrom.ID != owner.ID || fw.Text != "evidence" {
		t.Fatalf("forward: %+v %v", fw, err)
	}
}

func TestJoinRequestsAndInviteLinks(t *testing.T) {
	srv, bot := start(t, telegramtest.Options{AllowedUpdates: []string{"chat_join_request", "chat_member", "message"}})
	owner := srv.NewUser("Olga")
	group := srv.NewSupergroup("Mods", owner)
	link, err := bot.Request(tgbotapi.CreateChatInviteLinkConfig{ChatConfig: tgbotapi.ChatConfig{ChatID: group.ID}, Name: "gate", CreatesJoinRequest: true})
	if err != nil {
		t.Fatal(err)
	}
	var l tgbotapi.ChatInviteLink
	_ = json.Unmarshal(link.Result, &l)
	if !strings.HasPrefix(l.InviteLink, "https://t.me/+") || !l.CreatesJoinRequest || l.Creator.ID != bot.Self.ID {
		t.Fatalf("link %+v", l)
	}
	applicant := srv.NewUser("Ann")
	jr := srv.JoinRequest(group, applicant, telegramtest.JoinRequestOptions{Bio: "hi", InviteLink: l.InviteLink})
	if jr.UpdateID == 0 || jr.ChatJoinRequest.InviteLink.InviteLink != l.InviteLink {
		t.Fatalf("join request: %+v", jr)
	}
	if _, err := bot.Request(tgbotapi.ApproveChatJoinRequestConfig{ChatConfig: tgbotapi.ChatConfig{ChatID: group.ID}, UserID: applicant.ID}); err != nil {
		t.Fatal(err)
	}
	if m := srv.ChatMember(group.ID, applicant.ID); m.Status != telegramtest.StatusMember {
		t.Fatalf("after approval: %+v", m)
	}
	_, err = bot.Request(tgbotapi.ApproveChatJoinRequestConfig{ChatConfig: tgbotapi.ChatConfig{ChatID: group.ID}, UserID: applicant.ID})
	if e := apiErr(t, err); e.Message != "Bad Request: USER_ALREADY_PARTICIPANT" {
		t.Fatalf("approve twice: %+v", e)
	}
	ups, _ := bot.GetUpdates(tgbotapi.UpdateConfig{})
	kinds := []string{}
	for _, u := range ups {
		switch {
		case u.ChatJoinRequest != nil:
			kinds = append(kinds, "join_request")
		case u.ChatMember != nil:
			kinds = append(kinds, "chat_member:"+u.ChatMember.NewChatMember.Status)
		case u.Message != nil:
			kinds = append(kinds, "message")
		}
	}
	if strings.Join(kinds, ",") != "join_request,chat_member:member,message" {
		t.Fatalf("updates: %v", kinds)
	}
	if _, err := bot.Request(tgbotapi.RevokeChatInviteLinkConfig{ChatConfig: tgbotapi.ChatConfig{ChatID: group.ID}, InviteLink: l.InviteLink}); err != nil {
		t.Fatal(err)
	}
	if links := srv.InviteLinks(group.ID); len(links) != 1 || !links[0].IsRevoked {
		t.Fatalf("links: %+v", links)
	}
	primary, err := bot.GetInviteLink(tgbotapi.ChatInviteLinkConfig{ChatConfig: tgbotapi.ChatConfig{ChatID: group.ID}})
	if err != nil || !strings.HasPrefix(primary, "https://t.me/+") {
		t.Fatalf("export: %q %v", primary, err)
	}
	chat, err := bot.GetChat(tgbotapi.ChatInfoConfig{ChatConfig: tgbotapi.ChatConfig{ChatID: group.ID}})
	if err != nil || chat.InviteLink != primary || chat.Title != "Mods" || chat.Permissions == nil {
		t.Fatalf("getChat: %+v %v", chat, err)
	}
}

func TestServiceUpdatesShapes(t *testing.T) {
	srv, bot := start(t, telegramtest.Options{AllowedUpdates: []string{"message", "my_chat_member", "chat_member", "channel_post", "edited_message"}})
	owner := srv.NewUser("Olga")
	user := srv.NewUser("Nick")
	group := srv.NewChat(telegramtest.ChatSpec{Type: telegramtest.ChatSupergroup, Title: "G", Owner: owner, BotAbsent: true})
	channel := srv.NewChannel("News", "news_channel", owner)

	r := telegramtest.ModeratorRights()
	srv.BotAddedToGroup(group, owner, &r)
	srv.MessageFromChannel(group, channel, "from the channel")
	srv.AnonymousAdminMessage(group, "anon")
	u := srv.Message(group, user, "hello @someone #tag")
	if _, err := srv.EditMessage(group, u.Message.MessageID, "edited"); err != nil {
		t.Fatal(err)
	}
	srv.KickMember(group, owner, user)
	srv.SetTitle(group, owner, "New title")
	srv.ChannelPost(channel, "post")

	ups, err := bot.GetUpdates(tgbotapi.UpdateConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var desc []string
	for _, u := range ups {
		switch {
		case u.MyChatMember != nil:
			desc = append(desc, "my_chat_member:"+u.MyChatMember.NewChatMember.Status)
		case u.ChatMember != nil:
			desc = append(desc, "chat_member:"+u.ChatMember.NewChatMember.Status+":from="+strconv.FormatInt(u.ChatMember.From.ID, 10))
		case u.EditedMessage != nil:
			desc = append(desc, "edited:"+u.EditedMessage.Text)
		case u.ChannelPost != nil:
			desc = append(desc, "channel_post:"+u.ChannelPost.SenderChat.UserName)
		case u.Message != nil:
			m := u.Message
			switch {
			case len(m.NewChatMembers) > 0:
				desc = append(desc, "new_chat_members:"+m.NewChatMembers[0].UserName)
			case m.LeftChatMember != nil:
				desc = append(desc, "left_chat_member")
			case m.NewChatTitle != "":
				desc = append(desc, "new_chat_title:"+m.NewChatTitle)
			case m.SenderChat != nil:
				desc = append(desc, "sender_chat:"+strconv.FormatInt(m.SenderChat.ID, 10)+":from="+m.From.UserName)
			default:
				desc = append(desc, "message:"+m.Entities[0].Type+","+m.Entities[1].Type)
			}
		}
	}
	want := []string{
		"my_chat_member:administrator",
		"new_chat_members:" + bot.Self.UserName,
		"sender_chat:" + strconv.FormatInt(channel.ID, 10) + ":from=Channel_Bot",
		"sender_chat:" + strconv.FormatInt(group.ID, 10) + ":from=GroupAnonymousBot",
		"message:mention,hashtag",
		"edited:edited",
		"chat_member:kicked:from=" + strconv.FormatInt(owner.ID, 10),
		"left_chat_member",
		"new_chat_title:New title",
		"channel_post:news_channel",
	}
	if strings.Join(desc, "\n") != strings.Join(want, "\n") {
		t.Fatalf("updates:\n%s\nwant:\n%s", strings.Join(desc, "\n"), strings.Join(want, "\n"))
	}
}

func TestPrivacyModeAndBlockedUser(t *testing.T) {
	srv, bot := start(t, telegramtest.Options{PrivacyMode: true})
	owner := srv.NewUser("Olga")
	group := srv.NewChat(telegramtest.ChatSpec{Type: telegramtest.ChatSupergroup, Owner: owner})
	chatter := srv.Message(group, owner, "just chatting")
	cmd := srv.Command(group, owner, "logs 3")
	if chatter.UpdateID != 0 || cmd.UpdateID == 0 || cmd.Message.Text != "/logs 3" {
		t.Fatalf("privacy mode: chatter %d cmd %d", chatter.UpdateID, cmd.UpdateID)
	}
	user := srv.NewUser("Nick")
	srv.PrivateChat(user)
	srv.BlockBot(user)
	_, err := bot.Send(tgbotapi.NewMessage(user.ID, "hi"))
	if e := apiErr(t, err); e.Code != 403 || e.Message != "Forbidden: bot was blocked by the user" {
		t.Fatalf("blocked: %+v", e)
	}
	srv.BotRemoved(group, owner)
	_, err = bot.Send(tgbotapi.NewMessage(group.ID, "hi"))
	if e := apiErr(t, err); e.Code != 403 || e.Message != "Forbidden: bot was kicked from the supergroup chat" {
		t.Fatalf("kicked: %+v", e)
	}
}

func TestUnstartedPrivateChatAndFixedAddr(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	srv, bot := start(t, telegramtest.Options{Addr: addr})
	if srv.URL != "http://"+addr {
		t.Fatalf("URL = %s, want http://%s", srv.URL, addr)
	}
	stranger := srv.NewUser("Stranger")
	_, err = bot.Send(tgbotapi.NewMessage(stranger.ID, "hi"))
	if e := apiErr(t, err); e.Code != 403 || e.Message != "Forbidden: bot can't initiate conversation with a user" {
		t.Fatalf("unstarted private chat: %+v", e)
	}
	srv.PrivateChat(stranger)
	if _, err := bot.Send(tgbotapi.NewMessage(stranger.ID, "hi")); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentUse(t *testing.T) {
	srv, bot := start(t, telegramtest.Options{Limits: telegramtest.Limits{Disabled: true}, LongPollCap: 200 * time.Millisecond})
	owner := srv.NewUser("Olga")
	var chats []telegramtest.Chat
	for i := 0; i < 4; i++ {
		chats = append(chats, srv.NewSupergroup("g"+strconv.Itoa(i), owner))
	}
	ch := bot.GetUpdatesChan(tgbotapi.UpdateConfig{Timeout: 1})
	var wg sync.WaitGroup
	for _, c := range chats {
		wg.Add(2)
		go func(c telegramtest.Chat) {
			defer wg.Done()
			for i := 0; i < 15; i++ {
				if _, err := bot.Send(tgbotapi.NewMessage(c.ID, "log "+strconv.Itoa(i))); err != nil {
					t.Error(err)
					return
				}
			}
		}(c)
		go func(c telegramtest.Chat) {
			defer wg.Done()
			for i := 0; i < 15; i++ {
				srv.Message(c, owner, "user "+strconv.Itoa(i))
				_ = srv.Calls("sendMessage")
			}
		}(c)
	}
	wg.Wait()
	got := 0
	timeout := time.After(5 * time.Second)
	for got < 60 {
		select {
		case <-ch:
			got++
		case <-timeout:
			t.Fatalf("received %d of 60 updates", got)
		}
	}
	bot.StopReceivingUpdates()
	for _, c := range chats {
		if n := len(srv.Messages(c.ID)); n != 15 {
			t.Fatalf("chat %d: %d bot messages", c.ID, n)
		}
		if n := len(srv.AllMessages(c.ID)); n != 30 {
			t.Fatalf("chat %d: %d messages", c.ID, n)
		}
	}
}

func TestForwardCarriesTheOrigin(t *testing.T) {
	srv, _ := start(t, telegramtest.Options{})
	owner := srv.NewUser("Owner")
	channel := srv.NewChannel("Logs", "", owner)
	group := srv.NewSupergroup("Group", owner)
	post := srv.ChannelPost(channel, "/setlog")
	up, err := srv.Forward(group, owner, channel, post.ChannelPost.MessageID)
	if err != nil {
		t.Fatal(err)
	}
	m := up.Message
	if m == nil || m.Text != "/setlog" || m.ForwardOrigin == nil || m.ForwardOrigin.Type != "channel" ||
		m.ForwardOrigin.Chat.ID != channel.ID || m.ForwardOrigin.MessageID != post.ChannelPost.MessageID ||
		m.ForwardFromChat == nil || m.ForwardFromChat.ID != channel.ID || m.From == nil || m.From.ID != owner.ID {
		t.Fatalf("forward = %+v", m)
	}
	if _, err := srv.Forward(group, owner, channel, 999); err == nil {
		t.Fatal("forwarded a message that does not exist")
	}
}
