package discord

import (
	"context"
	"encoding/base64"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/command"
	"github.com/chatwarden/chatwarden/moderation/moderationtest"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
	"github.com/chatwarden/chatwarden/verification"
)

// The guild and members of the custom-id rig.
const (
	idGuild   = "100000000000000001"
	idOther   = "100000000000000002"
	idInvoker = "200000000000000001"
	idStaff   = "200000000000000002"
)

// idRig holds custom ids made by the bot's own builders against a real
// store and verification engine: a saved search with every cursor its
// pages issue, records for reversal buttons, and the Verify and answer
// buttons of a challenge.
type idRig struct {
	st      *store.Store
	ver     *verification.Engine
	pageID  string
	query   store.Query
	cursors []string // every cursor the search's pages issued
	records []audit.ID
	start   string   // the guild's Verify button
	answers []string // the answer buttons of idInvoker's challenge
}

// built lists every custom id the rig's builders made.
func (r *idRig) built() []string {
	ids := []string{r.start}
	ids = append(ids, r.answers...)
	for _, c := range r.cursors {
		ids = append(ids, pageCustomID(r.pageID, c))
	}
	for _, name := range reversalNames() {
		for _, id := range r.records {
			ids = append(ids, reversalCustomID(name, id))
		}
	}
	return ids
}

// reversalNames lists the reversal actions in a stable order.
func reversalNames() []string {
	var names []string
	for n := range reversals {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func newIDRig(t testing.TB) *idRig {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(filepath.Join(t.TempDir(), "ids.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := &idRig{st: st}

	// Three records, one a page: the search issues Older and Newer cursors.
	now := time.Now()
	var batch recorder.Batch
	for i := range 3 {
		e := &audit.Event{Time: now.Add(time.Duration(i) * time.Second), Platform: audit.Discord, PropertyID: idGuild,
			Type: audit.ChatMessage, Function: audit.FuncGateway, ActorType: audit.ActorNonAdmin, ActorID: idStaff,
			ActorName: "author", ChannelID: "3", MessageID: "100" + string(rune('0'+i)), Content: "hello"}
		e.Normalize(now)
		batch.Events = append(batch.Events, e)
	}
	if err := st.Append(ctx, &batch); err != nil {
		t.Fatal(err)
	}
	for _, e := range batch.Events {
		r.records = append(r.records, e.ID)
	}
	r.query = store.Query{Platform: audit.Discord, Property: idGuild, Limit: 1}
	pages := command.Pages{Store: st}
	if r.pageID, err = pages.Save(command.PageState{Scope: command.Scope{Platform: audit.Discord, Property: idGuild},
		Invoker: idInvoker, Query: r.query}); err != nil {
		t.Fatal(err)
	}
	for _, older := range []bool{true, false} {
		q := r.query
		if !older {
			q.Cursor = r.cursors[len(r.cursors)-1] // walk back from the oldest page
		}
		for {
			page, err := st.Query(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			next := page.Older
			if !older {
				next = page.Newer
			}
			if next == "" {
				break
			}
			r.cursors = append(r.cursors, next)
			q.Cursor = next
		}
	}
	if len(r.cursors) < 4 {
		t.Fatalf("the search issued %d cursors, want Older and Newer ones", len(r.cursors))
	}

	// The Verify button, and the answers of a challenge it starts.
	d := verification.BuiltinDefaults()
	d.Enabled, d.ChannelID, d.Timeout = true, "10", verification.MaxTimeout
	rec := recorder.New(discardJournal{}, recorder.Options{}) // gateway_fuzz_test.go
	t.Cleanup(func() { rec.Close(context.Background()) })
	ver, err := verification.New(ctx, verification.Options{KV: st, Settings: st, Recorder: rec,
		Defaults: d, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ver.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	r.ver = ver
	acts := moderationtest.NewActions(audit.Discord, nil)
	ver.Attach(acts, moderationtest.NewDirectory())
	if _, err := ver.PostPrompt(ctx, audit.Discord, idGuild); err != nil {
		t.Fatal(err)
	}
	sent := acts.Calls("Send")
	if len(sent) != 1 {
		t.Fatalf("the prompt was sent %d times", len(sent))
	}
	prompt := sent[0].Sent
	if len(prompt.Buttons) != 1 {
		t.Fatalf("the prompt has buttons %+v", prompt.Buttons)
	}
	r.start = prompt.Buttons[0].Data
	reply, err := ver.OnPress(ctx, idGuild, idInvoker, r.start)
	if err != nil || len(reply.Buttons) == 0 {
		t.Fatalf("pressing Verify: %+v, %v", reply, err)
	}
	for _, b := range reply.Buttons {
		r.answers = append(r.answers, b.Data)
	}
	return r
}

// checkCustomID checks the properties every custom id has, whoever made
// it: no parser panics; ids longer than Discord allows are refused; at
// most one parser accepts an id, and only one routed to it; an accepted
// id is exactly the one the builder makes of the parsed values; and what
// an accepted id names stays in the guild where it was made.
func (r *idRig) checkCustomID(t *testing.T, id string) {
	t.Helper()
	ctx := context.Background()
	pageID, cursor, pageOK := parsePageCustomID(id)
	action, record, revOK := parseReversalCustomID(id)
	kind := kindOf(id)
	if user, eraseOK := parseEraseCustomID(id); eraseOK {
		if kind != buttonErase || pageOK || revOK || len(id) > maxCustomID {
			t.Fatalf("%q: erase id routed to kind %d (pager %v, reversal %v, %d bytes)", id, kind, pageOK, revOK, len(id))
		}
		if again := eraseCustomID(user); again != id {
			t.Fatalf("%q parses to %q, which builds %q", id, user, again)
		}
	}
	if len(id) > maxCustomID && (pageOK || revOK) {
		t.Fatalf("%q: %d bytes accepted, Discord allows %d", id, len(id), maxCustomID)
	}
	if pageOK {
		if kind != buttonPage || revOK {
			t.Fatalf("%q: pager id routed to kind %d (reversal parse %v)", id, kind, revOK)
		}
		if again := pageCustomID(pageID, cursor); again != id {
			t.Fatalf("%q parses to (%q, %q), which builds %q", id, pageID, cursor, again)
		}
		pages := command.Pages{Store: r.st}
		if _, err := pages.Load(pageID, command.Scope{Platform: audit.Discord, Property: idOther}, idInvoker); err == nil {
			t.Fatalf("%q: the search loads in another guild", id)
		}
		if _, err := pages.Load(pageID, command.Scope{Platform: audit.Discord, Property: idGuild}, idInvoker); err == nil {
			if pageID != r.pageID {
				t.Fatalf("%q: page id %q loads, the saved one is %q", id, pageID, r.pageID)
			}
			q := r.query
			q.Cursor = cursor
			if _, err := r.st.Query(ctx, q); err == nil && cursor != "" && !slices.Contains(r.cursors, cursor) {
				t.Fatalf("%q: cursor %q is accepted but was never issued", id, cursor)
			}
		}
	}
	if revOK {
		if kind != buttonReversal {
			t.Fatalf("%q: reversal id routed to kind %d", id, kind)
		}
		if again := reversalCustomID(action, record); again != id {
			t.Fatalf("%q parses to (%q, %s), which builds %q", id, action, record, again)
		}
		if _, err := r.st.Get(ctx, audit.Discord, idOther, record); err == nil {
			t.Fatalf("%q: record %s found in another guild", id, record)
		}
		if _, err := r.st.Get(ctx, audit.Discord, idGuild, record); err == nil && !slices.Contains(r.records, record) {
			t.Fatalf("%q: record %s found but never recorded", id, record)
		}
	}
	if kind == buttonVerification {
		if want := id[2] == 'a'; verificationAnswer(id) != want {
			t.Fatalf("%q: answer %v, want %v", id, verificationAnswer(id), want)
		}
		// Pressed in another guild, no id is valid: the engine explains and
		// shows no buttons.
		reply, err := r.ver.OnPress(ctx, idOther, idStaff, id)
		if err != nil || reply.Text == "" || len(reply.Buttons) != 0 {
			t.Fatalf("%q pressed in another guild: %+v, %v", id, reply, err)
		}
	}
}

// FuzzCustomID feeds hostile custom ids to every parser of the bot's
// buttons (checkCustomID lists the properties), and builds pager and
// reversal ids from arbitrary values to check that each parses back to
// those values. Parsing is bounded by construction: ids over Discord's
// 100 bytes are refused, and TestCustomIDParsingAllocatesNothing checks
// that parsing does no work that grows with the id.
func FuzzCustomID(f *testing.F) {
	r := newIDRig(f)
	for _, id := range r.built() {
		f.Add(id, []byte("page-id-9"), []byte("cursor"), uint8(0), []byte("record-bytes"))
	}
	for _, id := range hostileCustomIDs(r) {
		f.Add(id, []byte{}, []byte{0xff}, uint8(3), []byte{})
	}
	names := reversalNames()
	f.Fuzz(func(t *testing.T, id string, pageRaw, cursorRaw []byte, action uint8, recordRaw []byte) {
		r.checkCustomID(t, id)

		pageID := base64.RawURLEncoding.EncodeToString(pageRaw)
		cursor := base64.RawURLEncoding.EncodeToString(cursorRaw)
		built := pageCustomID(pageID, cursor)
		gotPage, gotCursor, ok := parsePageCustomID(built)
		if want := pageID != "" && len(built) <= maxCustomID; ok != want || ok && (gotPage != pageID || gotCursor != cursor) {
			t.Fatalf("pager id %q parses to (%q, %q, %v), want (%q, %q, %v)", built, gotPage, gotCursor, ok, pageID, cursor, want)
		}
		if kindOf(built) != buttonPage {
			t.Fatalf("pager id %q routed to kind %d", built, kindOf(built))
		}

		var record audit.ID
		copy(record[:], recordRaw)
		name := names[int(action)%len(names)]
		built = reversalCustomID(name, record)
		gotName, gotRecord, ok := parseReversalCustomID(built)
		if !ok || gotName != name || gotRecord != record || kindOf(built) != buttonReversal {
			t.Fatalf("reversal id %q parses to (%q, %s, %v), want (%q, %s)", built, gotName, gotRecord, ok, name, record)
		}
	})
}

// hostileCustomIDs are ids a hostile client might send instead of the
// rig's genuine ones.
func hostileCustomIDs(r *idRig) []string {
	flipLast := func(s string) string {
		c := byte('A')
		if s[len(s)-1] == 'A' {
			c = 'B'
		}
		return s[:len(s)-1] + string(c)
	}
	rec := r.records[0].String()
	older := r.cursors[0]
	return []string{
		"",
		strings.Repeat("|", 100),
		strings.Repeat(":", 100),
		strings.Repeat("cw:p:", 20),
		strings.Repeat("cw:r:", 20),
		"\x00", "cw:p:\x00:\x00", "cw:r:ban:\x00" + rec[1:], "v1s\x00",
		"cw:p:", "cw:p:" + r.pageID, "cw:p::" + older, "cw:p:" + r.pageID + ":",
		"cw:p:" + r.pageID + ":" + flipLast(older), "cw:p:" + flipLast(r.pageID) + ":" + older,
		"cw:p:" + r.pageID + ":" + strings.Repeat("A", maxCustomID), "cw:p:a/b:" + older,
		"cw:p:" + r.pageID + ":" + older + ":" + older, "cw:p:" + r.pageID + "\x00:" + older,
		"cw:P:" + r.pageID + ":" + older, "xcw:p:" + r.pageID + ":" + older,
		"cw:r:", "cw:r:ban", "cw:r:ban:", "cw:r:nuke:" + rec, "cw:r:Ban:" + rec, "cw:r:ban:" + strings.ToLower(rec) + "x",
		"cw:r:ban:" + rec + ":", "cw:r:ban:" + rec[:19] + "1", "cw:r::" + rec, "cw:r:ban:" + rec + strings.Repeat("0", 80),
		"cw:r:ban:" + strings.Repeat("0", 20),
		"v", "v1", "v1s", "v3s" + r.start[3:], "v1x" + r.start[3:], flipLast(r.start), r.start + "A",
		"v1a" + r.start[3:], "v1s" + r.answers[0][3:], "v2" + r.answers[0][2:],
	}
}

func TestCustomIDsRoundTrip(t *testing.T) {
	r := newIDRig(t)
	for _, c := range r.cursors {
		id := pageCustomID(r.pageID, c)
		page, cursor, ok := parsePageCustomID(id)
		if !ok || page != r.pageID || cursor != c || kindOf(id) != buttonPage {
			t.Errorf("%q parses to (%q, %q, %v), kind %d", id, page, cursor, ok, kindOf(id))
		}
		if len(id) > maxCustomID {
			t.Errorf("%q is %d bytes, Discord allows %d", id, len(id), maxCustomID)
		}
	}
	for _, name := range reversalNames() {
		for _, rec := range r.records {
			id := reversalCustomID(name, rec)
			got, gotRec, ok := parseReversalCustomID(id)
			if !ok || got != name || gotRec != rec || kindOf(id) != buttonReversal {
				t.Errorf("%q parses to (%q, %s, %v), kind %d", id, got, gotRec, ok, kindOf(id))
			}
		}
	}
	if kindOf(r.start) != buttonVerification || verificationAnswer(r.start) {
		t.Errorf("the Verify button %q: kind %d, answer %v", r.start, kindOf(r.start), verificationAnswer(r.start))
	}
	for _, a := range r.answers {
		if kindOf(a) != buttonVerification || !verificationAnswer(a) {
			t.Errorf("the answer button %q: kind %d, answer %v", a, kindOf(a), verificationAnswer(a))
		}
	}
	for _, id := range r.built() {
		r.checkCustomID(t, id)
	}
}

func TestHostileCustomIDsRefused(t *testing.T) {
	r := newIDRig(t)
	built := r.built()
	noCursor := pageCustomID(r.pageID, "")
	for _, id := range hostileCustomIDs(r) {
		r.checkCustomID(t, id)
		if slices.Contains(built, id) {
			t.Fatalf("hostile id %q is one the bot built", id)
		}
		// The one pager id accepted without a cursor shows the search's
		// first page (TestAuditSearchTamperedButtonsStayInTheirGuild).
		if accepted := r.pressAccepted(id, idGuild, idInvoker); accepted != (id == noCursor) {
			t.Errorf("hostile id %q: accepted %v", id, accepted)
		}
	}
	// Malformed ids are refused by the parsers themselves, before any
	// lookup.
	rec, older := r.records[0].String(), r.cursors[0]
	for _, id := range []string{
		"", strings.Repeat("|", 100), strings.Repeat(":", 100), "\x00",
		"cw:p:", "cw:p::" + older, "cw:p:" + r.pageID, "cw:p:" + r.pageID + "\x00:" + older, "cw:p:a/b:" + older,
		"cw:p:" + r.pageID + ":" + strings.Repeat("A", maxCustomID), "cw:P:" + r.pageID + ":" + older,
		"cw:r:", "cw:r:ban", "cw:r:ban:", "cw:r:nuke:" + rec, "cw:r::" + rec, "cw:r:ban:\x00" + rec[1:],
		"cw:r:ban:" + rec + ":", "cw:r:ban:" + rec[:19] + "1", "cw:r:ban:" + strings.ToLower(rec) + "x",
		"cw:p:" + r.pageID + ":" + older + strings.Repeat("x", maxCustomID),
	} {
		if _, _, ok := parsePageCustomID(id); ok {
			t.Errorf("pager parser accepts %q", id)
		}
		if _, _, ok := parseReversalCustomID(id); ok {
			t.Errorf("reversal parser accepts %q", id)
		}
	}
	// Genuine ids are accepted where they were made, and refused in
	// another guild and, for a search, for another member.
	for _, id := range built[1+len(r.answers):] {
		if !r.pressAccepted(id, idGuild, idInvoker) {
			t.Errorf("genuine id %q refused", id)
		}
		if r.pressAccepted(id, idOther, idInvoker) {
			t.Errorf("genuine id %q accepted in another guild", id)
		}
		if kindOf(id) == buttonPage && r.pressAccepted(id, idGuild, idStaff) {
			t.Errorf("genuine id %q accepted for a member who did not search", id)
		}
	}
}

// pressAccepted reports whether a press of a pager or reversal button
// with custom id id, by presser in guild, gets past the checks of onPage
// and onReversal (parse, saved search or record in the guild, cursor of
// that search), permissions aside.
func (r *idRig) pressAccepted(id, guild, presser string) bool {
	ctx := context.Background()
	if pageID, cursor, ok := parsePageCustomID(id); ok {
		pages := command.Pages{Store: r.st}
		st, err := pages.Load(pageID, command.Scope{Platform: audit.Discord, Property: guild}, presser)
		if err != nil {
			return false
		}
		q := st.Query
		q.Cursor = cursor
		_, err = r.st.Query(ctx, q)
		return err == nil
	}
	if _, record, ok := parseReversalCustomID(id); ok {
		_, err := r.st.Get(ctx, audit.Discord, guild, record)
		return err == nil
	}
	return false
}

func TestCustomIDParsingIsBounded(t *testing.T) {
	r := newIDRig(t)
	ids := append(r.built(), hostileCustomIDs(r)...)
	ids = append(ids, strings.Repeat("cw:p:a", 1000), strings.Repeat("cw:r:ban:", 1000), strings.Repeat(":", 1<<16))
	// No work that grows with the id: each parse allocates at most for a
	// refused record id's error and a record id's text.
	const perID = 3
	allocs := testing.AllocsPerRun(10, func() {
		for _, id := range ids {
			parsePageCustomID(id)
			parseReversalCustomID(id)
			kindOf(id)
			verificationAnswer(id)
		}
	})
	if allocs > perID*float64(len(ids)) {
		t.Errorf("parsing %d custom ids allocates %.0f times, want at most %d each", len(ids), allocs, perID)
	}
}
