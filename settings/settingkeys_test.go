package settings

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
)

func TestSettingTable(t *testing.T) {
	var section struct {
		on    *bool
		n     int
		secs  int
		list  []string
		mode  string
		where string
	}
	table := Table{
		Bool("x.on", func(*Community) **bool { return &section.on }),
		Int("x.n", 1, 10, func(*Community) *int { return &section.n }),
		Seconds("x.window", time.Second, 7*24*time.Hour, func(*Community) *int { return &section.secs }),
		List("x.list", func(*Community) *[]string { return &section.list }),
		Choice("x.mode", []string{"a", "b"}, func(*Community) *string { return &section.mode }),
		ID("x.where", func(*Community) *string { return &section.where }),
	}
	var s Community
	for _, st := range []struct {
		key, value, want string
		bad              bool
	}{
		{"x.on", "Enabled", "on", false},
		{"X.ON ", "no", "off", false},
		{"x.on", "maybe", "off", true},
		{"x.on", "default", "", false},
		{"x.n", "10", "10", false},
		{"x.n", "11", "10", true},
		{"x.n", "", "", false},
		{"x.window", "7d", "168h0m0s", false},
		{"x.window", "90", "1m30s", false},
		{"x.window", "8d", "1m30s", true},
		{"x.window", "soon", "1m30s", true},
		{"x.list", "a.com,\n b.com ,a.com,,", "a.com,b.com", false},
		{"x.list", "", "", false},
		{"x.mode", "B", "b", false},
		{"x.mode", "c", "b", true},
		{"x.where", "<#123>", "123", false},
		{"x.where", "<@&456>", "456", false},
		{"x.where", "789", "789", false},
		{"x.where", "<#1", "789", true},
		{"x.where", "two words", "789", true},
		{"x.where", strings.Repeat("9", audit.MaxIDLen+1), "789", true},
	} {
		err := table.Set(&s, st.key, st.value)
		if st.bad != (err != nil) {
			t.Fatalf("Set(%s, %q) = %v", st.key, st.value, err)
		}
		if err != nil && (!errors.Is(err, ErrBadValue) || !strings.HasPrefix(err.Error(), strings.TrimSpace(strings.ToLower(st.key))+": ")) {
			t.Errorf("Set(%s, %q): %v must wrap ErrBadValue and name the key", st.key, st.value, err)
		}
		if got, err := table.Get(s, st.key); err != nil || got != st.want {
			t.Errorf("after Set(%s, %q): Get = %q, %v; want %q", st.key, st.value, got, err, st.want)
		}
	}
	if _, err := table.Get(s, "x.nope"); !errors.Is(err, ErrUnknown) {
		t.Errorf("Get of an unknown key: %v", err)
	}
	if err := table.Set(&s, "x.nope", "1"); !errors.Is(err, ErrUnknown) {
		t.Errorf("Set of an unknown key: %v", err)
	}
	if got := strings.Join(table.Names(), " "); got != "x.on x.n x.window x.list x.mode x.where" {
		t.Errorf("Names = %s", got)
	}
}
