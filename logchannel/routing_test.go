package logchannel_test

import (
	"context"
	"testing"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/logchannel"
	"github.com/chatwarden/chatwarden/settings"
)

// A record marked quiet is stored without a log route; the same record
// unmarked is routed to every channel of its property that takes its type.
func TestQuietRecordsAreNotRouted(t *testing.T) {
	r, err := logchannel.NewRouter(context.Background(), nil, "en")
	if err != nil {
		t.Fatal(err)
	}
	r.Update(audit.Telegram, "-100", settings.Community{LogChannels: []settings.LogChannel{{ID: "-200"},
		{ID: "-300", Types: []audit.EventType{audit.UserUpdate}}}})
	ev := func(quiet string) *audit.Event {
		e := &audit.Event{Platform: audit.Telegram, PropertyID: "-100", Type: audit.UserUpdate, Function: audit.FuncVerification}
		e.Params.Set(audit.ParamQuiet, quiet)
		return e
	}
	if got := r.Route(ev("")); len(got) != 2 {
		t.Fatalf("an unmarked record has %d routes, want 2: %+v", len(got), got)
	}
	for _, q := range []string{audit.QuietDetail, audit.QuietHousekeeping} {
		if got := r.Route(ev(q)); len(got) != 0 {
			t.Errorf("quiet %s: routes %+v", q, got)
		}
		if !logchannel.Quiet(ev(q)) {
			t.Errorf("quiet %s: Quiet is false", q)
		}
	}
	other := ev("")
	other.PropertyID = "-999"
	if got := r.Route(other); len(got) != 0 {
		t.Errorf("another property's record is routed: %+v", got)
	}
}
