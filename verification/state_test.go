package verification

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/settings"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func testRand() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }

func newTestChallenge(kind string, attempts int) *Challenge {
	cfg := BuiltinDefaults()
	cfg.Kind, cfg.MaxAttempts = kind, attempts
	return NewChallenge(audit.Discord, "g1", "u1", "Newcomer", cfg, t0, 42)
}

// wrong returns a wrong choice of the current question.
func wrong(c *Challenge) int { return (c.Correct + 1) % c.Choices() }

func TestChallengeTransitions(t *testing.T) {
	type step struct {
		op     string // ask, right, wrong, old (answer an earlier round), expire, leave
		at     time.Duration
		want   Outcome // for answers
		stage  Stage
		reason string // when done
	}
	tests := []struct {
		name  string
		kind  string
		max   int
		steps []step
		tries int // Attempts at the end
	}{
		{"button passes", KindButton, 3, []step{
			{op: "ask", stage: StageAsked},
			{op: "right", at: 10 * time.Second, want: OutcomePassed, stage: StageDone},
		}, 1},
		{"math passes on the second try", KindMath, 3, []step{
			{op: "ask", stage: StageAsked},
			{op: "wrong", want: OutcomeRetry, stage: StageAsked},
			{op: "ask", stage: StageAsked},
			{op: "right", want: OutcomePassed, stage: StageDone},
		}, 2},
		{"wrong answers fail", KindMath, 2, []step{
			{op: "ask", stage: StageAsked},
			{op: "wrong", want: OutcomeRetry, stage: StageAsked},
			{op: "ask", stage: StageAsked},
			{op: "wrong", want: OutcomeFailed, stage: StageDone, reason: audit.ReasonWrongAnswer},
		}, 2},
		{"an earlier round's answer is stale", KindMath, 3, []step{
			{op: "ask", stage: StageAsked},
			{op: "ask", stage: StageAsked},
			{op: "old", want: OutcomeStale, stage: StageAsked},
			{op: "right", want: OutcomePassed, stage: StageDone},
		}, 1},
		{"no answer before a question", KindButton, 3, []step{
			{op: "right", want: OutcomeStale, stage: StageWaiting},
		}, 0},
		{"an answer after the deadline times out", KindButton, 3, []step{
			{op: "ask", stage: StageAsked},
			{op: "right", at: 5 * time.Minute, want: OutcomeTimedOut, stage: StageDone, reason: audit.ReasonTimeout},
		}, 0},
		{"expire before the deadline does nothing", KindButton, 3, []step{
			{op: "expire", at: 4 * time.Minute, stage: StageWaiting},
			{op: "expire", at: 5 * time.Minute, stage: StageDone, reason: audit.ReasonTimeout},
			{op: "leave", at: 6 * time.Minute, stage: StageDone, reason: audit.ReasonTimeout},
		}, 0},
		{"leaving fails", KindMath, 3, []step{
			{op: "ask", stage: StageAsked},
			{op: "leave", at: time.Minute, stage: StageDone, reason: audit.ReasonLeft},
			{op: "right", want: OutcomeStale, stage: StageDone, reason: audit.ReasonLeft},
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := testRand()
			c := newTestChallenge(tt.kind, tt.max)
			for i, s := range tt.steps {
				now := t0.Add(s.at)
				switch s.op {
				case "ask":
					round := c.Round
					c.Ask(r)
					if c.Round != round+1 {
						t.Fatalf("step %d: round %d after Ask from %d", i, c.Round, round)
					}
				case "right", "wrong", "old":
					choice, round := c.Correct, c.Round
					if s.op == "wrong" {
						choice = wrong(c)
					}
					if s.op == "old" {
						round--
					}
					if got := c.Answer(round, choice, now); got != s.want {
						t.Fatalf("step %d: Answer = %v, want %v", i, got, s.want)
					}
				case "expire":
					c.Expire(now)
				case "leave":
					c.Leave(now)
				}
				if c.Stage != s.stage {
					t.Fatalf("step %d: stage %d, want %d", i, c.Stage, s.stage)
				}
				if s.stage == StageDone && (c.Result == nil || c.Result.Reason != s.reason ||
					c.Result.Passed != (s.reason == "")) {
					t.Fatalf("step %d: result %+v, want reason %q", i, c.Result, s.reason)
				}
			}
			if c.Attempts != tt.tries {
				t.Errorf("attempts = %d, want %d", c.Attempts, tt.tries)
			}
		})
	}
}

func TestMathQuestions(t *testing.T) {
	r := testRand()
	c := newTestChallenge(KindMath, 3)
	seen := map[[2]int]bool{}
	for range 200 {
		c.Ask(r)
		sum := c.A + c.B
		if len(c.Options) != 4 || c.Options[c.Correct] != sum {
			t.Fatalf("question %d + %d: options %v, correct %d", c.A, c.B, c.Options, c.Correct)
		}
		sorted := slices.Clone(c.Options)
		slices.Sort(sorted)
		if len(slices.Compact(sorted)) != 4 || sorted[0] <= 0 {
			t.Fatalf("options %v: want four distinct positive numbers", c.Options)
		}
		seen[[2]int{c.A, c.B}] = true
	}
	if len(seen) < 50 {
		t.Errorf("only %d different questions in 200", len(seen))
	}
}

func TestButtonData(t *testing.T) {
	s := signer{key: []byte("0123456789abcdef0123456789abcdef")}
	other := signer{key: []byte("another key, another bot instance")}
	c := newTestChallenge(KindMath, 3)
	c.Ask(testRand())
	c.Property = "-1001234567890123"
	c.User = "12345678901234567890"
	c.Platform = audit.Telegram
	data := s.answerData(c, 2)
	start := s.startData(audit.Discord, "900000000000000001")
	if len(data) > MaxDataLen || len(start) > MaxDataLen {
		t.Fatalf("data too long: %d, %d bytes", len(data), len(start))
	}
	check := func(name, data, property, user string, signer signer, want bool) {
		t.Helper()
		p, err := parseData(data)
		got := err == nil && signer.valid(p, property, user)
		if got != want {
			t.Errorf("%s: valid = %v (err %v), want %v", name, got, err, want)
		}
	}
	if !IsButton(data) || !IsButton(start) || IsButton("page:older:1") || IsButton("v") {
		t.Error("IsButton misjudges")
	}
	check("the member's own press", data, c.Property, c.User, s, true)
	check("another member", data, c.Property, "999", s, false)
	check("another property", data, "-1009999999999", c.User, s, false)
	check("another key", data, c.Property, c.User, other, false)
	check("start button", start, "900000000000000001", "anyone", s, true)
	check("start button elsewhere", start, "900000000000000002", "anyone", s, false)
	// Changing the choice, the round or the platform breaks the MAC.
	p, _ := parseData(data)
	if p.choice != 2 || p.round != c.Round || p.id != c.ID || p.platform != audit.Telegram {
		t.Fatalf("parsed %+v", p)
	}
	for i := 3; i < len(data); i++ {
		b := []byte(data)
		b[i] ^= 1
		check("altered byte "+strconv.Itoa(i), string(b), c.Property, c.User, s, false)
	}
	wrongPlatform := "v1" + data[2:]
	check("another platform", wrongPlatform, c.Property, c.User, s, false)
	for _, junk := range []string{"", "v", "v9a" + data[3:], "x" + data[1:], strings.Repeat("v", 70), "v2a!!!!"} {
		if _, err := parseData(junk); err == nil {
			t.Errorf("parseData(%q) accepted", junk)
		}
	}
}

func TestVerificationSettings(t *testing.T) {
	if err := BuiltinDefaults().Validate(); err != nil {
		t.Fatal(err)
	}
	var s settings.Community
	for _, st := range []struct{ key, value, want string }{
		{"verification.enabled", "on", "on"},
		{"verification.kind", "MATH", "math"},
		{"verification.channel", "<#123>", "123"},
		{"verification.role", "<@&456>", "456"},
		{"verification.timeout", "10m", "10m0s"},
		{"verification.max_attempts", "5", "5"},
		{"verification.fail_action", "ban", "ban"},
		{"verification.skip_added_by_admin", "off", "off"},
	} {
		if err := Keys.Set(&s, st.key, st.value); err != nil {
			t.Fatalf("SetSetting(%s, %q): %v", st.key, st.value, err)
		}
		if got, _ := Keys.Get(s, st.key); got != st.want {
			t.Errorf("%s = %q, want %q", st.key, got, st.want)
		}
	}
	for _, bad := range [][2]string{{"verification.kind", "captcha"}, {"verification.timeout", "5s"},
		{"verification.max_attempts", "11"}, {"verification.fail_action", "mute"}, {"verification.nope", "1"}} {
		if err := Keys.Set(&s, bad[0], bad[1]); err == nil {
			t.Errorf("Set(%s, %q) accepted", bad[0], bad[1])
		} else if !errors.Is(err, settings.ErrBadValue) && !errors.Is(err, settings.ErrUnknown) || !strings.Contains(err.Error(), bad[0]) {
			t.Errorf("Set(%s, %q): %v does not name the key", bad[0], bad[1], err)
		}
	}
	got := BuiltinDefaults().Resolve(s)
	want := Defaults{Enabled: true, Kind: KindMath, Timeout: 10 * time.Minute, MaxAttempts: 5, FailAction: FailBan,
		ChannelID: "123", RoleID: "456"}
	if got != want {
		t.Errorf("Resolve = %+v, want %+v", got, want)
	}
	if err := Keys.Set(&s, "verification.timeout", "default"); err != nil {
		t.Fatal(err)
	}
	if got := BuiltinDefaults().Resolve(s).Timeout; got != 5*time.Minute {
		t.Errorf("timeout back to default = %v", got)
	}
}
