package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"
	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

// offline refuses every REST request: a translation that would reach the
// network fails fast instead of waiting on it.
type offline struct{}

func (offline) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("fuzz: no network")
}

// discardJournal accepts every batch without writing it: the fuzz target
// checks what the translation produced, not the store.
type discardJournal struct{}

func (discardJournal) Append(context.Context, *recorder.Batch) error { return nil }

// logFlag remembers whether the bot logged a failure to record events
// (how a translation that produced an invalid audit.Event shows) or a
// handler's panic (which on() recovers from and logs).
type logFlag struct {
	mu  sync.Mutex
	bad []string
}

func (l *logFlag) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("record discord events")) || bytes.Contains(p, []byte("panicked")) {
		l.mu.Lock()
		l.bad = append(l.bad, string(p))
		l.mu.Unlock()
	}
	return len(p), nil
}

func (l *logFlag) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.bad
	l.bad = nil
	return out
}

// gatewayRig is a Bot built by New, never connected: its handlers run
// against a real store (member profiles, guild snapshots, a stored message
// for edits and deletions to find) and a recorder whose Prepare hook sees
// every event the translation submits.
type gatewayRig struct {
	b      *Bot
	byKind map[string][]reflect.Value // the bot's handlers by event name
	logs   *logFlag

	mu     sync.Mutex
	events []*audit.Event
}

func newGatewayRig(t testing.TB) *gatewayRig {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "gw.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// A message the edit and deletion paths find in the store.
	known := &audit.Event{Time: time.Now(), Platform: audit.Discord, PropertyID: "1", Type: audit.ChatMessage,
		Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin, ActorID: "2", ActorName: "author",
		ChannelID: "3", MessageID: "1000", Content: "before"}
	known.Normalize(time.Now())
	if err := st.Append(context.Background(), &recorder.Batch{Events: []*audit.Event{known}}); err != nil {
		t.Fatal(err)
	}
	g := &gatewayRig{logs: &logFlag{}}
	rec := recorder.New(discardJournal{}, recorder.Options{Prepare: func(e *audit.Event) {
		g.mu.Lock()
		g.events = append(g.events, e)
		g.mu.Unlock()
	}})
	t.Cleanup(func() { rec.Close(context.Background()) })
	b, err := New(Options{Token: "fuzz", Store: st, Recorder: rec, CorrelationWindow: time.Hour,
		HTTPClient: &http.Client{Transport: offline{}, Timeout: time.Second},
		Logger:     zerolog.New(g.logs)})
	if err != nil {
		t.Fatal(err)
	}
	// A guild in the state, so that the staff checks read roles.
	if err := b.s.State.GuildAdd(&discordgo.Guild{ID: "1", OwnerID: "9",
		Roles: []*discordgo.Role{{ID: "1"}, {ID: "5", Permissions: discordgo.PermissionBanMembers}}}); err != nil {
		t.Fatal(err)
	}
	b.self = &discordgo.User{ID: "4", Username: "chatwarden", Bot: true}
	g.b, g.byKind = b, handlersByKind(b)
	return g
}

// dispatch decodes payload as discordgo decodes the event kind names and
// runs it through every handler the bot registers for it (Bot.handlers),
// in order, with the one decoded value, as discordgo does. Like discordgo
// it passes on what a payload that fails to decode filled in (its
// onEvent logs the error and dispatches anyway). It reports false when no
// handler takes kind.
func (g *gatewayRig) dispatch(kind string, payload []byte) bool {
	hs := g.byKind[kind]
	if len(hs) == 0 {
		return false
	}
	v := reflect.New(hs[0].Type().In(1).Elem())
	_ = json.Unmarshal(payload, v.Interface()) // a partial value, as discordgo's
	for _, h := range hs {
		h.Call([]reflect.Value{reflect.Zero(hs[0].Type().In(0)), v})
	}
	return true
}

// notFuzzed are the handlers of what is no outside data to translate:
// the connection's own events, and interactions, which go to a goroutine
// and REST (their custom ids are fuzzed on their own).
var notFuzzed = map[string]bool{"READY": true, "CONNECT": true, "DISCONNECT": true, "EVENT": true, "INTERACTION_CREATE": true}

// handlersByKind indexes the bot's gateway handlers by the event name
// discordgo dispatches them for: the Go type's name in upper snake case
// (GuildAuditLogEntryCreate is GUILD_AUDIT_LOG_ENTRY_CREATE).
func handlersByKind(b *Bot) map[string][]reflect.Value {
	out := map[string][]reflect.Value{}
	for _, h := range b.handlers() {
		fv := reflect.ValueOf(h)
		name := upperSnake(fv.Type().In(1).Elem().Name())
		if !notFuzzed[name] {
			out[name] = append(out[name], fv)
		}
	}
	return out
}

func upperSnake(camel string) string {
	var sb strings.Builder
	for i, r := range camel {
		if i > 0 && unicode.IsUpper(r) {
			sb.WriteByte('_')
		}
		sb.WriteRune(unicode.ToUpper(r))
	}
	return sb.String()
}

// TestFuzzDrivesEveryHandler: a handler added to the bot without a place
// in gatewayKinds would go unfuzzed.
func TestFuzzDrivesEveryHandler(t *testing.T) {
	g := newGatewayRig(t)
	listed := map[string]bool{}
	for _, k := range gatewayKinds {
		listed[k] = true
		if k != "UNKNOWN_EVENT" && len(g.byKind[k]) == 0 {
			t.Errorf("%s is fuzzed but no handler takes it", k)
		}
	}
	for k := range g.byKind {
		if !listed[k] {
			t.Errorf("the handler of %s is not in gatewayKinds", k)
		}
	}
	if len(g.byKind["GUILD_MEMBER_ADD"]) != 2 {
		t.Errorf("GUILD_MEMBER_ADD drives %d handlers, want the state's and the record's", len(g.byKind["GUILD_MEMBER_ADD"]))
	}
}

// gatewayKinds are the dispatches the fuzz target drives, chosen by the
// fuzzer's first byte.
var gatewayKinds = []string{"GUILD_CREATE", "GUILD_UPDATE", "GUILD_MEMBER_ADD", "GUILD_MEMBER_REMOVE",
	"GUILD_MEMBER_UPDATE", "GUILD_BAN_ADD", "GUILD_BAN_REMOVE", "MESSAGE_CREATE", "MESSAGE_UPDATE",
	"MESSAGE_DELETE", "MESSAGE_DELETE_BULK", "CHANNEL_CREATE", "CHANNEL_DELETE", "THREAD_CREATE",
	"THREAD_DELETE", "INVITE_CREATE", "INVITE_DELETE", "GUILD_AUDIT_LOG_ENTRY_CREATE", "UNKNOWN_EVENT",
	"GUILD_ROLE_CREATE", "GUILD_ROLE_UPDATE", "GUILD_MEMBERS_CHUNK", "GUILD_ROLE_DELETE",
	"CHANNEL_UPDATE", "THREAD_UPDATE", "VOICE_STATE_UPDATE", "AUTO_MODERATION_ACTION_EXECUTION",
	"AUTO_MODERATION_RULE_CREATE", "AUTO_MODERATION_RULE_UPDATE", "AUTO_MODERATION_RULE_DELETE"}

// FuzzGatewayTranslate feeds hostile gateway payloads (any JSON, invalid
// snowflakes, missing users, unknown event types) through the Discord
// handler's translation into audit.Events. Properties: no panic; every event
// submitted passes Validate (an invalid one is refused by the recorder and
// logged, which fails the target); every recorded event is one of the
// gateway's own, for a non-empty guild, with sizes within the stored limits
// and valid UTF-8 where the input was; the bot's own user is never recorded
// as the author of a message.
func FuzzGatewayTranslate(f *testing.F) {
	seeds := []struct {
		kind    uint8
		payload string
	}{
		{0, `{"id":"1","name":"g","members":[{"user":{"id":"2","username":"a"},"roles":["5"]}]}`},
		{0, `{"id":"1","members":[{"nick":"no user"},null]}`},
		{1, `{"id":"1","name":"renamed","owner_id":"9","description":"<@&123>"}`},
		{2, `{"guild_id":"1","user":{"id":"not-a-snowflake","username":"@everyone","bot":true},"joined_at":"2024-01-01T00:00:00Z"}`},
		{3, `{"guild_id":"1","user":{"id":"2","username":"x"}}`},
		{4, `{"guild_id":"1","user":{"id":"2","username":"**bold**\n\nFAKE ENTRY","global_name":"\u202eevil"},"nick":"</b><a href=x>","roles":["5","6"],"communication_disabled_until":"2999-01-01T00:00:00Z"}`},
		{5, `{"guild_id":"1","user":{"id":"7","username":"<script>"}}`},
		{6, `{"guild_id":"1","user":null}`},
		{7, `{"id":"1100000000000000000","guild_id":"1","channel_id":"3","content":"hi https://x.example <@&1>","author":{"id":"2","username":"a"},"member":{"nick":"n"},"attachments":[{"filename":"f","url":"u","size":1}],"embeds":[{"url":"https://e"},null],"message_reference":{"message_id":"5"},"webhook_id":"8"}`},
		{7, `{"id":"-1","guild_id":"1","channel_id":"3","content":"self","author":{"id":"4"}}`},
		{7, `{"id":"1100000000000000002","type":7,"guild_id":"1","channel_id":"3","content":"","author":{"id":"2","username":"a"}}`},
		{7, `{"id":"1100000000000000003","type":10,"guild_id":"1","channel_id":"3","author":{"id":"2"},"member":null}`},
		{7, `{"id":"1100000000000000004","type":38,"guild_id":"1","channel_id":"3","content":"raid","author":{"id":"9"}}`},
		{8, `{"id":"1000","guild_id":"1","channel_id":"3","content":"after","edited_timestamp":"2024-01-01T00:00:00Z","author":{"id":"2"}}`},
		{8, `{"id":"1001","guild_id":"1","edited_timestamp":"2024-01-01T00:00:00Z"}`},
		{9, `{"id":"1000","guild_id":"1","channel_id":"3"}`},
		{10, `{"guild_id":"1","channel_id":"3","ids":["1000","x","",""]}`},
		{11, `{"id":"11","guild_id":"1","name":"chan","type":99,"owner_id":"2","parent_id":"3"}`},
		{12, `{"id":"11","guild_id":"1","type":0}`},
		{15, `{"guild_id":"1","channel_id":"3","code":"abc","inviter":{"id":"2"},"max_uses":-5,"max_age":9223372036}`},
		{16, `{"guild_id":"1","channel_id":"3","code":"abc"}`},
		{17, `{"guild_id":"1","id":"x","user_id":"9","target_id":"2","action_type":20,"reason":"spam\n@everyone"}`},
		{17, `{"guild_id":"1","user_id":"9","target_id":"2","action_type":72,"options":{"channel_id":"3"}}`},
		{17, `{"guild_id":"1","action_type":42,"changes":[{"key":"code","old_value":7},{"key":"code","new_value":"abc"},null]}`},
		{18, `{"t":"SOMETHING_NEW","d":{}}`},
		{19, `{"guild_id":"1","role":{"id":"6","name":"mods","permissions":"4"}}`},
		{20, `{"guild_id":"1","role":{"id":"5","permissions":"not a number"}}`},
		{22, `{"guild_id":"1","role_id":"6"}`},
		{19, `{"guild_id":"1","role":{"id":"7","name":"admins","permissions":"8","color":16711680}}`},
		{23, `{"id":"3","guild_id":"1","name":"renamed","type":0,"permission_overwrites":[{"id":"1","type":0,"allow":"8","deny":"0"},null,{"id":"2","type":1,"allow":"x"}]}`},
		{24, `{"id":"12","guild_id":"1","name":"t","type":11,"thread_metadata":{"archived":true,"locked":true}}`},
		{25, `{"guild_id":"1","channel_id":"3","user_id":"2","session_id":"s","mute":true,"deaf":false,"member":{"user":{"id":"2","username":"v"},"roles":[]}}`},
		{25, `{"guild_id":"1","channel_id":null,"user_id":"2"}`},
		{26, `{"guild_id":"1","action":{"type":3,"metadata":{"duration_seconds":60}},"rule_id":"8","rule_trigger_type":1,"user_id":"2","channel_id":"3","content":"bad word","matched_keyword":"bad*","matched_content":"bad"}`},
		{27, `{"id":"8","guild_id":"1","name":"no slurs","creator_id":"9","event_type":1,"trigger_type":1,"actions":[{"type":1}],"enabled":true}`},
		{17, `{"guild_id":"1","id":"1100000000000000001","user_id":"9","target_id":"77","action_type":50,"changes":[{"key":"name","new_value":"hook"},{"key":"channel_id","new_value":"3"},{"key":"type","new_value":1}]}`},
		{17, `{"guild_id":"1","user_id":"9","target_id":"2","action_type":74,"options":{"channel_id":"3","message_id":"1000"}}`},
		{17, `{"guild_id":"1","user_id":"9","action_type":27,"options":{"count":"1"}}`},
		{21, `{"guild_id":"1","members":[{"user":{"id":"2","username":"a"},"roles":["5"]},null],"chunk_index":0,"chunk_count":1,"nonce":"n"}`},
	}
	for _, s := range seeds {
		f.Add(s.kind, []byte(s.payload))
	}
	g := newGatewayRig(f)
	gateway := map[string]bool{}
	for _, k := range gatewayKinds {
		gateway[k] = true
	}
	f.Fuzz(func(t *testing.T, kind uint8, payload []byte) {
		if len(payload) > 64<<10 {
			return // the gateway's own frames are bounded; keep each run cheap
		}
		name := gatewayKinds[int(kind)%len(gatewayKinds)]
		// Unbounded time shows as a crash with the input: a hung run would
		// otherwise only stall the fuzzer.
		watchdog := time.AfterFunc(3*time.Second, func() { panic(fmt.Sprintf("%s took over 3 s on %q", name, payload)) })
		defer watchdog.Stop()
		g.dispatch(name, payload)
		g.b.corr.flush()
		if bad := g.logs.take(); len(bad) > 0 {
			t.Fatalf("%s: a handler panicked or submitted an event the recorder refused: %s", name, bad)
		}
		g.mu.Lock()
		events := g.events
		g.events = nil
		g.mu.Unlock()
		validInput := utf8.Valid(payload)
		for _, e := range events {
			if err := e.Validate(); err != nil {
				t.Fatalf("%s: invalid event: %v", name, err)
			}
			if e.Platform != audit.Discord || e.Function != audit.FuncGateway || e.PropertyID == "" {
				t.Fatalf("%s: event of %v/%v for property %q", name, e.Platform, e.Function, e.PropertyID)
			}
			if !gateway[e.PlatformType] {
				t.Fatalf("%s: platform type %q is not a gateway event's", name, e.PlatformType)
			}
			if len(e.Content) > audit.MaxContentLen || len(e.ActorName) > audit.MaxNameLen ||
				len(e.ActorID) > audit.MaxIDLen || len(e.Params) > audit.MaxParams ||
				len(e.TargetIDs) > audit.MaxTargets || len(e.Attachments) > audit.MaxAttachments {
				t.Fatalf("%s: event exceeds the stored limits: content %d, name %d, params %d",
					name, len(e.Content), len(e.ActorName), len(e.Params))
			}
			for k, v := range e.Params {
				if len(k) > audit.MaxNameLen || len(v) > audit.MaxParamLen {
					t.Fatalf("%s: param %q of %d bytes", name, k, len(v))
				}
			}
			if validInput && (!utf8.ValidString(e.Content) || !utf8.ValidString(e.ActorName)) {
				t.Fatalf("%s: valid UTF-8 in, invalid out: %q %q", name, e.ActorName, e.Content)
			}
			if e.Type == audit.ChatMessage && e.ActorID == g.b.self.ID {
				t.Fatalf("%s: the bot's own message recorded", name)
			}
		}
	})
}

// TestHandlerPanicIsLoggedNotFatal: a handler that panics on an event
// (discordgo would let it end the process) is logged, naming the event,
// and the next event is handled.
func TestHandlerPanicIsLoggedNotFatal(t *testing.T) {
	g := newGatewayRig(t)
	calls := 0
	h := on(g.b, func(m *discordgo.MessageCreate) {
		calls++
		if m.Content == "boom" {
			panic("a bug")
		}
	})
	h(nil, &discordgo.MessageCreate{Message: &discordgo.Message{Content: "boom"}})
	h(nil, nil)
	h(nil, &discordgo.MessageCreate{Message: &discordgo.Message{Content: "fine"}})
	logged := g.logs.take()
	if calls != 2 || len(logged) != 1 || !strings.Contains(logged[0], "*discordgo.MessageCreate") || !strings.Contains(logged[0], "a bug") {
		t.Fatalf("%d calls; logged %q", calls, logged)
	}
}
