package demo

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
)

// The demo's script: what people do in the community, through the fakes'
// inputs only (gateway events, interactions, updates). Every step waits
// for the bot's visible reaction, with a bound, so that the demo reports
// what did not happen instead of hanging.

const (
	demoRaidSize  = 300
	demoPhishHost = "free-nitro.gift"
	stepTimeout   = 15 * time.Second
	// demoLogTypes routes everything but the plain new messages.
	demoLogTypes = "members,moderation,server,CHAT_MESSAGE_EDIT,CHAT_MESSAGE_DELETE"
)

// waitFor polls cond until it holds or timeout passes.
func waitFor(timeout time.Duration, what string, cond func() bool) error {
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not seen within %s", what, timeout)
		}
	}
	return nil
}

// demoVerifyTimeout is the verification timeout the demo sets (the least
// the engine allows): Carl's and the look-alike's deadlines end the day.
const demoVerifyTimeout = 30 * time.Second

// discordCommunity is the Riverside Gardeners server on the fake Discord.
type discordCommunity struct {
	fake                   *discordtest.Server
	guild                  *discordtest.Guild
	general, welcome, logs string // channel ids
	verified               string // role id
	owner, theo            *discordtest.User
	ann, bob, carl, dave   *discordtest.User
	eve, mimic             *discordtest.User
	verifyButton           string    // the Verify button's custom id
	timedOut               []string  // members who never answer
	verificationStarted    time.Time // when the first of them joined
}

func newDiscordCommunity(fake *discordtest.Server) *discordCommunity {
	user := func(name, display string) *discordtest.User {
		return &discordtest.User{ID: fake.Snowflake(), Username: name, GlobalName: display}
	}
	d := &discordCommunity{fake: fake, owner: user("mayalin", "Maya Lin"), theo: user("theo.m", "Theo"),
		ann: user("ann.g", "Ann"), bob: user("bobby", "Bob"), carl: user("carl_k", "Carl"), dave: user("dave77", "Dave"),
		eve: user("eve.free.gifts", "Eve"),
		// "Mаya Lin" with a Cyrillic а: the owner's name to the eye.
		mimic: user("maya_lin.support", "M\u0430ya Lin")}
	id := fake.Snowflake()
	mods, verified := fake.Snowflake(), fake.Snowflake()
	d.general, d.welcome, d.logs, d.verified = fake.Snowflake(), fake.Snowflake(), fake.Snowflake(), verified
	text := func(cid, name string) *discordtest.Channel {
		return &discordtest.Channel{ID: cid, GuildID: id, Name: name, Type: discordtest.ChannelTypeGuildText}
	}
	d.guild = &discordtest.Guild{ID: id, Name: "Riverside Gardeners", OwnerID: d.owner.ID,
		Roles: []*discordtest.Role{{ID: id, Name: "@everyone", Permissions: discordtest.PermissionViewChannel | discordtest.PermissionSendMessages},
			{ID: mods, Name: "Moderators", Position: 2, Permissions: discordtest.PermissionBanMembers | discordtest.PermissionKickMembers |
				discordtest.PermissionModerateMembers | discordtest.PermissionManageMessages | discordtest.PermissionViewAuditLogs},
			{ID: verified, Name: "Verified", Position: 1}},
		Channels: []*discordtest.Channel{text(d.general, "general"), text(d.welcome, "welcome"), text(d.logs, "mod-log")},
		Members: []*discordtest.Member{{User: d.owner, Roles: []string{}}, {User: d.theo, Roles: []string{mods}},
			{User: d.dave, Roles: []string{verified}}, {User: d.eve, Roles: []string{verified}}}}
	fake.AddGuild(d.guild)
	return d
}

// names are what the Discord client shows for the community's ids.
func (d *discordCommunity) names() map[string]string {
	out := map[string]string{}
	for _, c := range d.guild.Channels {
		out[c.ID] = c.Name
	}
	for _, r := range d.guild.Roles {
		out[r.ID] = r.Name
	}
	for _, u := range []*discordtest.User{d.owner, d.theo, d.ann, d.bob, d.carl, d.dave, d.eve, d.mimic} {
		out[u.ID] = u.GlobalName
	}
	return out
}

// replyOf returns the bot's visible answer to an interaction: the first
// answer that is not a deferral (type 5 or 6), or the edit that follows.
func replyOf(in *discordtest.Interaction) (discordPost, error) {
	var post discordPost
	err := waitFor(stepTimeout, "an answer to the interaction", func() bool {
		for _, r := range in.Replies() {
			if r.Kind == "callback" {
				var cb struct {
					Type int             `json:"type"`
					Data json.RawMessage `json:"data"`
				}
				if json.Unmarshal(r.Body, &cb) != nil || cb.Type == 5 || cb.Type == 6 || len(cb.Data) == 0 {
					continue
				}
				return json.Unmarshal(cb.Data, &post) == nil
			}
			if json.Unmarshal(r.Body, &post) == nil {
				return true
			}
		}
		return false
	})
	return post, err
}

// slash runs a slash command and shows its (ephemeral) answer.
func (d *discordCommunity) slash(scr *screen, u *discordtest.User, shown, name, sub string, opts ...discordtest.Option) (discordPost, error) {
	scr.note("%s runs %s", u.GlobalName, shown)
	post, err := replyOf(d.fake.Slash(d.guild.ID, u, name, sub, opts...))
	if err != nil {
		return post, fmt.Errorf("%s: %w", shown, err)
	}
	if post.Content != "" {
		scr.note("  chatwarden (only %s sees this): %s", u.GlobalName, scr.resolve(firstLine(post.Content)))
	}
	return post, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// posted waits for a post in a channel that satisfies ok.
func (d *discordCommunity) posted(channel, what string, ok func(discordPost) bool) (discordPost, error) {
	var found discordPost
	err := waitFor(stepTimeout, what, func() bool {
		for _, raw := range d.fake.Posts(channel) {
			var p discordPost
			if json.Unmarshal(raw, &p) == nil && ok(p) {
				found = p
				return true
			}
		}
		return false
	})
	return found, err
}

// called waits for a REST call of the bot.
func (d *discordCommunity) called(method, pathPart, what string) error {
	return waitFor(stepTimeout, what, func() bool {
		for _, c := range d.fake.Calls() {
			if c.Method == method && strings.Contains(c.Path, pathPart) {
				return true
			}
		}
		return false
	})
}

func (d *discordCommunity) setUp(scr *screen) error {
	scr.scene("Discord: Maya, the owner, sets chatwarden up")
	if _, err := d.slash(scr, d.owner, "/config log-channel channel:#mod-log types:"+demoLogTypes, "config", "log-channel",
		discordtest.ChannelArg("channel", d.logs), discordtest.Str("types", demoLogTypes)); err != nil {
		return err
	}
	_, err := d.slash(scr, d.owner, "/config set key:link_filter.denylist value:"+demoPhishHost, "config", "set",
		discordtest.Str("key", "link_filter.denylist"), discordtest.Str("value", demoPhishHost))
	return err
}

func (d *discordCommunity) raid(scr *screen) error {
	scr.scene("Discord: a raid, %d fresh accounts join within seconds", demoRaidSize)
	for i := range demoRaidSize {
		u := &discordtest.User{ID: d.fake.Snowflake(), Username: fmt.Sprintf("gr0w_b0t_%04d", i)}
		d.fake.Join(d.guild.ID, u)
		if i%50 == 49 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	scr.note("every join is recorded; the log channel gets one raid entry, posted when the raid is detected and edited as it grows, instead of %d join lines", demoRaidSize)
	return nil
}

func (d *discordCommunity) waitRaidOver(scr *screen) error {
	scr.scene("Discord: the raid is over once joins calm down; its entry is edited to say so")
	_, err := d.posted(d.logs, "the raid entry, over", func(p discordPost) bool {
		for _, em := range p.Embeds {
			if em.Footer != nil && strings.Contains(em.Footer.Text, "SECURITY_EVENT") &&
				strings.Contains(em.Title+em.Description, "Join raid over") {
				return true
			}
		}
		return false
	})
	if err == nil {
		scr.note("its buttons act on the %d raiders only, after a confirmation: Ban all (bulk bans of 200), Kick all, Time out all", demoRaidSize)
	}
	return err
}

func fieldText(em *discordtest.MessageEmbed) string {
	var b strings.Builder
	for _, f := range em.Fields {
		b.WriteString(f.Name + " " + f.Value + " ")
	}
	return b.String()
}

var sumQuestion = regexp.MustCompile(`What is (\d+) \+ (\d+)\?`)

// mathAnswer returns the custom id of the right (or a wrong) answer.
func mathAnswer(p discordPost, right bool) (string, error) {
	q := sumQuestion.FindStringSubmatch(p.Content)
	if q == nil {
		return "", fmt.Errorf("no sum in the challenge %q", p.Content)
	}
	a, _ := strconv.Atoi(q[1])
	b, _ := strconv.Atoi(q[2])
	for label, id := range p.buttons() {
		if (label == strconv.Itoa(a+b)) == right {
			return id, nil
		}
	}
	return "", fmt.Errorf("no fitting answer among %v", p.labels())
}

// press presses a button as u and returns the answer.
func (d *discordCommunity) press(u *discordtest.User, customID string) (discordPost, error) {
	return replyOf(d.fake.Press(d.guild.ID, u, customID))
}

func (d *discordCommunity) verification(scr *screen) error {
	timeout := demoVerifyTimeout.String()
	scr.scene("Discord: Maya turns on verification (math, %s) for newcomers", timeout)
	if _, err := d.slash(scr, d.owner, "/config verification channel:#welcome role:@Verified kind:math timeout:"+timeout,
		"config", "verification", discordtest.ChannelArg("channel", d.welcome),
		discordtest.Option{Name: "role", Type: discordtest.ApplicationCommandOptionRole, Value: d.verified},
		discordtest.Str("kind", "math"), discordtest.Str("timeout", timeout)); err != nil {
		return err
	}
	prompt, err := d.posted(d.welcome, "the Verify button in #welcome", func(p discordPost) bool { return p.buttons()["Verify"] != "" })
	if err != nil {
		return err
	}
	d.verifyButton = prompt.buttons()["Verify"]
	scr.note("#welcome: %q [ Verify ]", prompt.Content)

	scr.scene("Discord: Carl joins and never answers (his 30 seconds start now)")
	d.verificationStarted = time.Now()
	d.fake.Join(d.guild.ID, d.carl)
	d.timedOut = append(d.timedOut, d.carl.ID)
	return nil
}

func (d *discordCommunity) impersonation(scr *screen) error {
	scr.scene("Discord: %q joins, looking just like the owner %q", d.mimic.GlobalName, d.owner.GlobalName)
	d.fake.Join(d.guild.ID, d.mimic)
	d.timedOut = append(d.timedOut, d.mimic.ID)
	if err := d.called("PATCH", "/members/"+d.mimic.ID, "the impersonator's quarantine"); err != nil {
		return err
	}
	scr.note("chatwarden quarantines the look-alike (a timeout) and flags it")

	scr.scene("Discord: Ann joins and passes the math challenge; Bob answers wrong three times")
	for _, u := range []*discordtest.User{d.ann, d.bob} {
		d.fake.Join(d.guild.ID, u)
	}
	challenge, err := d.press(d.ann, d.verifyButton)
	if err != nil {
		return fmt.Errorf("Ann presses Verify: %w", err)
	}
	scr.note("Ann sees: %s", challenge.Content)
	right, err := mathAnswer(challenge, true)
	if err != nil {
		return err
	}
	done, err := d.press(d.ann, right)
	if err != nil {
		return fmt.Errorf("Ann answers: %w", err)
	}
	scr.note("Ann answers right: %s", firstLine(done.Content))
	if err := d.called("PUT", "/members/"+d.ann.ID+"/roles/"+d.verified, "Ann's Verified role"); err != nil {
		return err
	}
	challenge, err = d.press(d.bob, d.verifyButton)
	if err != nil {
		return fmt.Errorf("Bob presses Verify: %w", err)
	}
	for attempt := 1; ; attempt++ {
		wrong, err := mathAnswer(challenge, false)
		if err != nil {
			if attempt > 1 {
				break // no more questions: the challenge is over
			}
			return err
		}
		if challenge, err = d.press(d.bob, wrong); err != nil {
			return fmt.Errorf("Bob answers: %w", err)
		}
		scr.note("Bob answers wrong (attempt %d): %s", attempt, firstLine(challenge.Content))
		if attempt == 5 {
			return errors.New("Bob's challenge never ended")
		}
	}
	return d.called("DELETE", "/members/"+d.bob.ID, "Bob's kick")
}

func (d *discordCommunity) links(scr *screen) error {
	scr.scene("Discord: Eve posts a phishing link, then an obfuscated one; Ann posts a good link")
	deletes := func() int {
		n := 0
		for _, c := range d.fake.Calls() {
			if c.Method == "DELETE" && strings.Contains(c.Path, "/channels/"+d.general+"/messages/") {
				n++
			}
		}
		return n
	}
	before := deletes()
	for _, text := range []string{
		"Free Nitro for every gardener 🌻 https://" + demoPhishHost + "/claim",
		"last chance!! hxxps://free-nitro[.]gift/claim",
	} {
		d.fake.Say(d.guild.ID, d.general, d.eve, text)
		scr.note("Eve: %s", text)
	}
	good := "Companion planting guide: https://en.wikipedia.org/wiki/Companion_planting"
	d.fake.Say(d.guild.ID, d.general, d.ann, good)
	scr.note("Ann: %s", good)
	if err := waitFor(stepTimeout, "the two phishing messages deleted", func() bool { return deletes()-before >= 2 }); err != nil {
		return err
	}
	scr.note("both of Eve's messages are deleted; Ann's stays")
	return nil
}

func (d *discordCommunity) editDeleteReport(scr *screen) error {
	scr.scene("Discord: Ann edits a message, then deletes it; Dave is rude and Ann reports him")
	m := d.fake.Say(d.guild.ID, d.general, d.ann, "Seed swap on Saturday at 10 in the community hall")
	time.Sleep(200 * time.Millisecond)
	d.fake.Edit(m, "Seed swap on Saturday at 11 in the community hall")
	time.Sleep(200 * time.Millisecond)
	d.fake.Delete(m)
	rude := d.fake.Say(d.guild.ID, d.general, d.dave, "your tomatoes are garbage and so are you")
	scr.note("Dave: %s", rude.Content)
	time.Sleep(200 * time.Millisecond)
	post, err := replyOf(d.fake.ReportMessage(d.guild.ID, d.ann, "Report to moderators", rude))
	if err != nil {
		return fmt.Errorf("Ann reports Dave's message: %w", err)
	}
	scr.note("Ann uses “Report to moderators”: %s", firstLine(post.Content))
	return nil
}

func (d *discordCommunity) waitTimeouts(scr *screen) error {
	left := time.Until(d.verificationStarted.Add(demoVerifyTimeout)).Round(time.Second)
	scr.scene("Discord: Carl and the look-alike never verified; their time runs out (in about %s)", max(left, 0))
	// Bob's failure and the two timeouts, as the log channel shows them.
	return waitFor(demoVerifyTimeout+stepTimeout, "the two verification timeouts in #mod-log", func() bool {
		n := 0
		for _, raw := range d.fake.Posts(d.logs) {
			var p discordPost
			if json.Unmarshal(raw, &p) != nil {
				continue
			}
			for _, em := range p.Embeds {
				if em.Footer != nil && strings.Contains(em.Footer.Text, "VERIFICATION_FAILURE") {
					n++
				}
			}
		}
		return n >= 1+len(d.timedOut)
	})
}

// auditSearch shows what a moderator sees with /audit search.
func (d *discordCommunity) auditSearch(scr *screen) {
	scr.scene("Discord: Theo, a moderator, asks /audit search type:VERIFICATION_FAILURE")
	in := d.fake.Slash(d.guild.ID, d.theo, "audit", "search", discordtest.Str("type", "VERIFICATION_FAILURE"))
	post, err := replyOf(in)
	if err != nil {
		scr.note("no answer: %v", err)
		return
	}
	raw, _ := json.Marshal(post)
	scr.discordEntries("(only Theo sees this)", raw)
}

// telegramCommunity is the Riverside Gardeners group on the fake Telegram.
type telegramCommunity struct {
	fake            *telegramtest.Server
	group, logs     telegramtest.Chat
	owner, sam, lee telegramtest.User
	priya           telegramtest.User
}

func newTelegramCommunity(fake *telegramtest.Server) *telegramCommunity {
	t := &telegramCommunity{fake: fake, owner: fake.NewUser("Maya"), sam: fake.NewUser("Sam"), lee: fake.NewUser("Lee"),
		priya: fake.NewUser("Priya")}
	t.group = fake.NewSupergroup("Riverside Gardeners", t.owner, t.sam, t.lee)
	t.logs = fake.NewSupergroup("Riverside mod log", t.owner)
	return t
}

// botSaid waits for a message of the bot in the group containing want.
func (t *telegramCommunity) botSaid(want string) (telegramtest.SentMessage, error) {
	var found telegramtest.SentMessage
	err := waitFor(stepTimeout, fmt.Sprintf("the bot's %q in the group", want), func() bool {
		for _, m := range t.fake.Messages(t.group.ID) {
			if strings.Contains(m.Text, want) {
				found = m
				return true
			}
		}
		return false
	})
	return found, err
}

// command sends an admin command in the group and shows the answer.
func (t *telegramCommunity) command(scr *screen, text, want string) error {
	scr.note("Maya sends %s", text)
	t.fake.Command(t.group, t.owner, text)
	m, err := t.botSaid(want)
	if err != nil {
		return err
	}
	scr.note("  chatwarden: %s", firstLine(m.Text))
	return nil
}

func (t *telegramCommunity) setUp(scr *screen) error {
	scr.scene("Telegram: Maya links the log chat and changes two settings")
	if err := t.command(scr, "/setlog "+strconv.FormatInt(t.logs.ID, 10), "log"); err != nil {
		return err
	}
	if err := t.command(scr, "/logtypes "+demoLogTypes, "receives"); err != nil {
		return err
	}
	if err := t.command(scr, "/settings link_filter.denylist "+demoPhishHost, "link_filter.denylist is now"); err != nil {
		return err
	}
	return t.command(scr, "/settings verification.enabled on", "verification.enabled is now")
}

func (t *telegramCommunity) verify(scr *screen) error {
	scr.scene("Telegram: Priya joins; she is restricted until she passes the challenge")
	t.fake.JoinMember(t.group, t.priya)
	challenge, err := t.botSaid("Welcome, " + t.priya.FirstName + "!")
	if err != nil {
		return err
	}
	scr.note("the group sees: %s", firstLine(challenge.Text))
	var data, label string
	if challenge.ReplyMarkup != nil {
		for _, row := range challenge.ReplyMarkup.InlineKeyboard {
			for _, b := range row {
				if b.CallbackData != nil {
					data, label = *b.CallbackData, b.Text
				}
			}
		}
	}
	if data == "" {
		return errors.New("the challenge has no button")
	}
	cb, err := t.fake.PressButton(t.group, t.priya, challenge.MessageID, data)
	if err != nil {
		return fmt.Errorf("Priya presses %q: %w", label, err)
	}
	ans, ok := cb.Wait(stepTimeout)
	if !ok {
		return errors.New("Priya's press was not answered")
	}
	scr.note("Priya presses [ %s ]: %s", label, ans.Text)
	return nil
}

func (t *telegramCommunity) links(scr *screen) error {
	scr.scene("Telegram: Sam posts an obfuscated phishing link")
	text := "free nitro for gardeners: hxxps://free-nitro[.]gift/claim"
	up := t.fake.Message(t.group, t.sam, text)
	scr.note("Sam: %s", text)
	id := up.Message.MessageID
	if err := waitFor(stepTimeout, "the phishing message deleted", func() bool {
		_, ok := t.fake.MessageByID(t.group.ID, id)
		return !ok
	}); err != nil {
		return err
	}
	scr.note("deleted")
	return nil
}

func (t *telegramCommunity) editBanUnban(scr *screen) error {
	scr.scene("Telegram: Lee edits a message; Maya bans Sam, then thinks better of it and unbans him")
	up := t.fake.Message(t.group, t.lee, "Watering rota: Lee on Monday")
	time.Sleep(200 * time.Millisecond)
	if _, err := t.fake.EditMessage(t.group, up.Message.MessageID, "Watering rota: Lee on Tuesday"); err != nil {
		return fmt.Errorf("Lee's edit: %w", err)
	}
	t.fake.BanMember(t.group, t.owner, t.sam, time.Time{})
	time.Sleep(500 * time.Millisecond)
	t.fake.Unban(t.group, t.owner, t.sam)
	return nil
}
