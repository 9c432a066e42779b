package settings

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"
)

// engine is an engine's operator defaults, for the tests.
type engine struct {
	On     bool
	N      int
	Wait   time.Duration
	Mode   string
	List   []string
	Files  []string
	Exempt []string
	Where  string
}

// defs are settings over engine, written to the sections of Community
// that a real engine would use.
var defs = Defs[engine]{
	BoolDef("x.on", true, "on", func(e *engine) *bool { return &e.On }, func(c *Community) **bool { return &lf(c).Enabled }),
	IntDef("x.n", 1, 10, 3, "n", func(e *engine) *int { return &e.N }, func(c *Community) *int { return &lf(c).EscalateAfter }),
	DurationDef("x.wait", time.Second, time.Hour, 90*time.Minute/3, "wait", func(e *engine) *time.Duration { return &e.Wait },
		func(c *Community) *int { return &lf(c).EscalateWindowSeconds }),
	ChoiceDef("x.mode", []string{"a", "b"}, "a", "mode", func(e *engine) *string { return &e.Mode }, func(c *Community) *string { return &lf(c).Mode }),
	ListDef("x.list", "list", func(e *engine) *[]string { return &e.List }, func(c *Community) *[]string { return &lf(c).Denylist }),
	ListDef("x.files", "files", func(e *engine) *[]string { return &e.Files }, nil),
	ListDef("x.exempt", "exempt", func(e *engine) *[]string { return &e.Exempt }, func(c *Community) *[]string { return &lf(c).ExemptRoles }).CommunityOnly(),
	IDDef("x.where", "where", func(e *engine) *string { return &e.Where }, func(c *Community) *string { return &lf(c).Mode }),
}

func lf(c *Community) *LinkFilter {
	if c.LinkFilter == nil {
		c.LinkFilter = &LinkFilter{}
	}
	return c.LinkFilter
}

func TestDefs(t *testing.T) {
	d := defs.Builtin()
	if want := (engine{On: true, N: 3, Wait: 30 * time.Minute, Mode: "a"}); !reflect.DeepEqual(d, want) {
		t.Fatalf("Builtin = %+v, want %+v", d, want)
	}
	if got := defs[2].Default; got != "30m" {
		t.Errorf("a duration's default reads %q", got)
	}
	for _, c := range []struct {
		name string
		v    []string
		bad  bool
	}{
		{"x.on", []string{"off"}, false},
		{"x.on", []string{"maybe"}, true},
		{"x.n", []string{"11"}, true},
		{"x.n", []string{"7"}, false},
		{"x.wait", []string{"2h"}, true},
		{"x.wait", []string{"90s"}, false},
		{"x.mode", []string{"B"}, false},
		{"x.mode", []string{"c"}, true},
		{"x.mode", nil, true},
		{"x.mode", []string{"a", "b"}, true},
		{"x.list", []string{" a.com", "a.com", "b.com", ""}, false},
		{"x.files", []string{"/etc/list"}, false},
		{"x.exempt", []string{"1"}, true}, // communities only
		{"x.nope", []string{"1"}, true},
	} {
		err := defs.SetDefault(&d, c.name, c.v)
		if c.bad != (err != nil) || (err != nil && !errors.Is(err, ErrBadValue) && !errors.Is(err, ErrUnknown)) {
			t.Errorf("SetDefault(%s, %q) = %v", c.name, c.v, err)
		}
	}
	if want := (engine{N: 7, Wait: 90 * time.Second, Mode: "b", List: []string{"a.com", "b.com"}, Files: []string{"/etc/list"}}); !reflect.DeepEqual(d, want) {
		t.Fatalf("after SetDefault: %+v, want %+v", d, want)
	}
	if err := defs.Check(&d); err != nil {
		t.Fatal(err)
	}
	bad := d
	bad.N = 0
	if err := defs.Check(&bad); err == nil || err.Error()[:4] != "x.n:" {
		t.Errorf("Check of n=0: %v", err)
	}

	// A community's values: set from chat, resolved over the operator's.
	var c Community
	table := defs.Table()
	if got := table.Names(); !slices.Equal(got, []string{"x.on", "x.n", "x.wait", "x.mode", "x.list", "x.exempt", "x.where"}) {
		t.Fatalf("chat keys %v (x.files is the operator's alone)", got)
	}
	for k, v := range map[string]string{"x.on": "on", "x.n": "9", "x.list": "c.com", "x.exempt": "42"} {
		if err := table.Set(&c, k, v); err != nil {
			t.Fatal(err)
		}
	}
	r := defs.Resolve(d, c)
	if want := (engine{On: true, N: 9, Wait: 90 * time.Second, Mode: "b", List: []string{"a.com", "b.com", "c.com"},
		Files: []string{"/etc/list"}, Exempt: []string{"42"}}); !reflect.DeepEqual(r, want) {
		t.Fatalf("Resolve = %+v, want %+v", r, want)
	}
	r.List[0] = "changed"
	if d.List[0] != "a.com" {
		t.Error("Resolve shares the operator's list")
	}
	// A stored value out of bounds (an older bot's, a hand edit) is ignored.
	lf(&c).EscalateAfter = 50
	if r := defs.Resolve(d, c); r.N != 7 {
		t.Errorf("an out-of-bounds stored value was used: %d", r.N)
	}
}
