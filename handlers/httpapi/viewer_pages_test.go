package httpapi

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/logentry"
	"github.com/chatwarden/chatwarden/settings"
)

// Names that must come out as text: markup, right-to-left, very long.
const (
	hostileName = `<img src=x onerror=alert(1)>Dave`
	rtlName     = "\u202eمدير\u202c"
	longName    = "Wolfeschlegelsteinhausenbergerdorff-Wolfeschlegelsteinhausenbergerdorff-Wolfeschlegelsteinhausenbergerdorff"
)

// modFixture records a community's moderation history: Dave ("dave")
// joins, posts, is timed out, loses a link, is banned by Alice and
// unbanned; others are kicked, quarantined, fail verification, delete
// their own message and leave on their own.
func modFixture(e *env) map[string]*audit.Event {
	by := func(id, name string, t audit.ActorType) func(*audit.Event) {
		return func(x *audit.Event) { x.ActorID, x.ActorName, x.ActorType = id, name, t }
	}
	on := func(id, name string) func(*audit.Event) {
		return func(x *audit.Event) { x.TargetIDs = []string{id}; x.Params.Set(audit.ParamTargetName, name) }
	}
	m := map[string]*audit.Event{
		"join":    ev(1, audit.UserJoin, by("dave", hostileName, audit.ActorNonAdmin)),
		"msg":     ev(2, audit.ChatMessage, by("dave", hostileName, audit.ActorNonAdmin), func(x *audit.Event) { x.MessageID = "m1"; x.Content = "hello all" }),
		"timeout": ev(3, audit.UserUpdate, by("alice", rtlName, audit.ActorAdmin), on("dave", hostileName), withParams(audit.ParamField, "timeout", audit.ParamNewValue, "2026-10-02T00:00:00Z", audit.ParamReason, "spam <b>links</b>")),
		"link":    ev(4, audit.ModerationLink, by("bot", "chatwarden", audit.ActorBot), on("dave", hostileName), withParams(audit.ParamRule, "DENYLIST", audit.ParamDomain, "evil.example", audit.ParamAction, "DELETE", audit.ParamOutcome, "DONE")),
		"linkdel": ev(5, audit.ChatMessageDelete, by("bot", "chatwarden", audit.ActorBot), on("dave", hostileName), func(x *audit.Event) { x.Function = audit.FuncLinkFilter }),
		"ban":     ev(6, audit.UserBan, by("alice", rtlName, audit.ActorAdmin), on("dave", hostileName), withParams(audit.ParamReason, "raiding")),
		"unban":   ev(7, audit.UserBanRemove, by("alice", rtlName, audit.ActorAdmin), on("dave", hostileName)),
		"kick":    ev(8, audit.UserRemove, by("bob", longName, audit.ActorAdmin), on("erin", "Erin"), withParams(audit.ParamRemoval, audit.RemovalKicked)),
		"left":    ev(9, audit.UserRemove, by("frank", "Frank", audit.ActorNonAdmin), on("frank", "Frank"), withParams(audit.ParamRemoval, audit.RemovalLeft)),
		"moddel":  ev(10, audit.ChatMessageDelete, by("bob", longName, audit.ActorAdmin), on("erin", "Erin")),
		"selfdel": ev(11, audit.ChatMessageDelete, by("erin", "Erin", audit.ActorNonAdmin), on("erin", "Erin")),
		"quarantine": ev(12, audit.SecurityEvent, by("bot", "chatwarden", audit.ActorBot), on("gina", "Gina"),
			withParams(audit.ParamKind, audit.KindImpersonation, audit.ParamAction, "QUARANTINE", audit.ParamOutcome, "DONE")),
		"verifyfail": ev(13, audit.VerificationFailure, by("bot", "chatwarden", audit.ActorBot), on("hal", "Hal"), withParams(audit.ParamReason, audit.ReasonTimeout)),
		"report":     ev(14, audit.MessageReport, by("erin", "Erin", audit.ActorNonAdmin), on("dave", hostileName), withParams(audit.ParamReportedAuthor, "dave")),
		"edit": ev(15, audit.ChatMessageEdit, by("dave", "Dave", audit.ActorNonAdmin), func(x *audit.Event) {
			x.MessageID = "m1"
			x.Content = "hello everyone here"
			x.Params.Set(audit.ParamOldContent, "hello all here")
		}),
	}
	var all []*audit.Event
	for _, x := range m {
		all = append(all, x)
	}
	e.record(all...)
	return m
}

// rows returns the moderation table's rows (class act-*) in order.
func modRows(page string) []string {
	var out []string
	for _, part := range strings.Split(page, `<tr class="act-`)[1:] {
		out = append(out, part[:strings.Index(part, `"`)])
	}
	return out
}

func TestModerationView(t *testing.T) {
	e := newEnv(t)
	m := modFixture(e)
	e.record(ev(20, audit.UserBan, inProp(audit.Telegram, propB)))
	b := e.browser(t)
	if resp, _ := b.do("GET", "/moderation", nil); resp.StatusCode != 303 {
		t.Errorf("without a session: %d", resp.StatusCode)
	}
	b.do("POST", "/login", url.Values{"token": {e.tokA}})
	resp, page := b.do("GET", "/moderation", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("moderation view: %d\n%s", resp.StatusCode, page)
	}
	want := []string{"verify_fail", "quarantine", "delete", "kick", "unban", "ban", "link", "timeout"}
	if got := modRows(page); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("rows %v, want %v", got, want)
	}
	if strings.Contains(page, `id="who"`) {
		t.Error("a token session names a moderator")
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(page, "<script") {
		t.Errorf("CSP %q", csp)
	}
	for _, bad := range []string{"<img src=x", "<b>links", "\u202e"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page holds %q unescaped", bad)
		}
	}
	for _, s := range []string{"&lt;img src=x onerror=alert(1)&gt;Dave", "spam &lt;b&gt;links&lt;/b&gt;", "raiding", "no reason given",
		`href="/member?user=dave"`, `href="/record?id=` + m["ban"].ID.String() + `"`, "<bdi>مدير</bdi>", longName, `<option value="مدير">alice</option>`} {
		if !strings.Contains(page, s) {
			t.Errorf("the page lacks %q", s)
		}
	}
	if _, log := b.do("GET", "/", nil); !strings.Contains(log, `<a href="/moderation">Moderation</a>`) {
		t.Error("the log page does not link to the moderation view")
	}
	// The unban's row says no reason was given.
	unban := page[strings.Index(page, `<tr class="act-unban"`):]
	unban = unban[:strings.Index(unban, "</tr>")]
	if !strings.Contains(unban, `class="reason none" data-label="Reason">no reason given`) {
		t.Errorf("unban row: %s", unban)
	}
	// Filters: by moderator id or name, by action.
	for q, want := range map[string]string{
		"moderator=alice":                        "unban ban timeout",
		"moderator=" + url.QueryEscape(longName): "delete kick",
		"action=ban":                             "ban",
		"action=kick&moderator=bob":              "kick",
		"action=ban&moderator=bob":               "",
		"moderator=" + url.QueryEscape("مدير"):   "unban ban timeout",
		"moderator=nobody":                       "",
	} {
		_, page := b.do("GET", "/moderation?"+q, nil)
		if got := strings.Join(modRows(page), " "); got != want {
			t.Errorf("%s: rows %q, want %q", q, got, want)
		}
	}
	if resp, page := b.do("GET", "/moderation?action=nuke", nil); resp.StatusCode != 400 || !strings.Contains(page, "action:") {
		t.Errorf("unknown action: %d", resp.StatusCode)
	}
	if resp, _ := b.do("GET", "/moderation?before=xyz", nil); resp.StatusCode != 400 {
		t.Errorf("bad before: %d", resp.StatusCode)
	}
	// Paging by record id.
	_, page = b.do("GET", "/moderation?before="+m["kick"].ID.String(), nil)
	if got := strings.Join(modRows(page), " "); got != "unban ban link timeout" {
		t.Errorf("before the kick: %q", got)
	}
	// The operator names the property; without one the page says so.
	op := e.browser(t)
	op.do("POST", "/login", url.Values{"token": {testOperator}})
	if resp, page := op.do("GET", "/moderation", nil); resp.StatusCode != 400 || !strings.Contains(page, "Choose a community") {
		t.Errorf("operator without a property: %d", resp.StatusCode)
	}
	_, page = op.do("GET", "/moderation?property="+url.QueryEscape(pathB), nil)
	if got := modRows(page); len(got) != 1 || !strings.Contains(page, "property="+url.QueryEscape(pathB)) {
		t.Errorf("operator, property B: %v", got)
	}
}

func TestRecordPage(t *testing.T) {
	e := newEnv(t)
	m := modFixture(e)
	other := ev(30, audit.UserBan, inProp(audit.Telegram, propB))
	e.record(other)
	b := e.browser(t)
	b.do("POST", "/login", url.Values{"token": {e.tokA}})
	resp, page := b.do("GET", "/record?id="+m["ban"].ID.String(), nil)
	if resp.StatusCode != 200 || !strings.Contains(page, `id="record"`) || !strings.Contains(page, "raiding") ||
		!strings.Contains(page, `href="/member?user=alice"`) || !strings.Contains(page, `href="/member?user=dave"`) || strings.Contains(page, "<img src=x") {
		t.Errorf("record page: %d\n%s", resp.StatusCode, page)
	}
	// Another community's record is not found from this session.
	if resp, _ := b.do("GET", "/record?id="+other.ID.String(), nil); resp.StatusCode != 404 {
		t.Errorf("another community's record: %d", resp.StatusCode)
	}
	if resp, _ := b.do("GET", "/record?id=nope", nil); resp.StatusCode != 400 {
		t.Errorf("bad id: %d", resp.StatusCode)
	}
	// An edit: before and after, changed words marked, content escaped.
	_, page = b.do("GET", "/record?id="+m["edit"].ID.String(), nil)
	for _, s := range []string{`<p class="before"><span class="diff-label">Before</span> hello <del>all</del> here</p>`,
		`<p class="after"><span class="diff-label">After</span> hello <ins>everyone</ins> here</p>`} {
		if !strings.Contains(page, s) {
			t.Errorf("the edit lacks %q\n%s", s, page)
		}
	}
	if strings.Contains(page, "<dt>Before</dt>") || strings.Contains(page, `class="content"`) {
		t.Errorf("the edit's texts are shown twice:\n%s", page)
	}
	xss := ev(41, audit.ChatMessageEdit, func(x *audit.Event) {
		x.Content = "<i>x</i> now"
		x.Params.Set(audit.ParamOldContent, "<b>x</b> now")
	})
	e.record(xss)
	_, page = b.do("GET", "/record?id="+xss.ID.String(), nil)
	if !strings.Contains(page, "<del>&lt;b&gt;x&lt;/b&gt;</del> now") || !strings.Contains(page, "<ins>&lt;i&gt;x&lt;/i&gt;</ins> now") || strings.Contains(page, "<b>x") {
		t.Errorf("edit with markup:\n%s", page)
	}
	// Long content folds into a <details>.
	long := ev(40, audit.ChatMessage, func(x *audit.Event) { x.Content = strings.Repeat("word ", 300) })
	e.record(long)
	_, page = b.do("GET", "/record?id="+long.ID.String(), nil)
	if !strings.Contains(page, `<details class="content-more"><summary>word word`) {
		t.Errorf("long content not folded:\n%s", page)
	}
}

func TestMemberPage(t *testing.T) {
	e := newEnv(t)
	m := modFixture(e)
	e.record(ev(30, audit.UserJoin, func(x *audit.Event) { x.ActorID, x.ActorName = "dave", "Dave" }),
		ev(31, audit.UserRemove, func(x *audit.Event) {
			x.ActorID, x.ActorName, x.TargetIDs = "dave", "Dave", []string{"dave"}
			x.Params.Set(audit.ParamRemoval, audit.RemovalLeft)
		}),
		ev(32, audit.ChatMessage, inProp(audit.Telegram, propB), func(x *audit.Event) { x.ActorID = "dave" }))
	b := e.browser(t)
	b.do("POST", "/login", url.Values{"token": {e.tokA}})
	resp, page := b.do("GET", "/member?user=dave", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("member page: %d\n%s", resp.StatusCode, page)
	}
	for _, s := range []string{
		`<dd id="first-seen">` + timeText(m["join"].Time) + `</dd>`,
		`<dd id="joins">2: `, `<dd id="leaves">1: ` + timeText(base.Add(31*time.Minute)) + `</dd>`,
		`<dd id="messages">1</dd>`, `<dd id="edits">1</dd>`, `<dd id="deletions">1</dd>`,
		"<bdi>&lt;img src=x onerror=alert(1)&gt;Dave</bdi> <small>since " + timeText(m["join"].Time),
		"<bdi>Dave</bdi> <small>since " + timeText(m["edit"].Time),
		`href="/?user=dave"`, `href="/moderation?moderator=dave"`,
	} {
		if !strings.Contains(page, s) {
			t.Errorf("the member page lacks %q", s)
		}
	}
	if got := strings.Join(modRows(page), " "); got != "unban ban link timeout" {
		t.Errorf("actions on Dave: %q", got)
	}
	about := page[strings.Index(page, `id="reports-about"`):strings.Index(page, `id="reports-by"`)]
	if !strings.Contains(about, m["report"].ID.String()) {
		t.Errorf("the report about Dave is missing: %s", about)
	}
	if strings.Contains(page, "<img src=x") {
		t.Error("a name is not escaped")
	}
	// Erin: reports by her, a kick and a moderator deletion on her.
	_, page = b.do("GET", "/member?user=erin", nil)
	by := page[strings.Index(page, `id="reports-by"`):]
	if !strings.Contains(by, m["report"].ID.String()) || strings.Join(modRows(page), " ") != "delete kick" {
		t.Errorf("Erin's page: %v\n%s", modRows(page), page)
	}
	if resp, _ := b.do("GET", "/member", nil); resp.StatusCode != 400 {
		t.Errorf("no user: %d", resp.StatusCode)
	}
	// The log links people, channels and records.
	_, page = b.do("GET", "/?type=USER_BAN", nil)
	for _, s := range []string{`href="/member?user=dave"`, `href="/member?user=alice"`, `href="/?channel=c0"`, `href="/record?id=` + m["ban"].ID.String() + `"`} {
		if !strings.Contains(page, s) {
			t.Errorf("the log page lacks %q\n%s", s, page)
		}
	}
}

func TestViewerNames(t *testing.T) {
	e := newEnv(t)
	modFixture(e)
	e.record(ev(40, audit.PropertyUpdate, withParams(audit.ParamChanged, "name", "old_name", "Old", "new_name", "Tea <b>Room</b>")),
		ev(41, audit.UserUpdate, func(x *audit.Event) {
			x.ActorID, x.ActorName, x.TargetIDs = "dave", "Dave", []string{"dave"}
			x.Params.Set(audit.ParamField, "username")
			x.Params.Set(audit.ParamOldValue, "dave_old")
			x.Params.Set(audit.ParamNewValue, "davey")
		}),
		ev(42, audit.ChatMessage, func(x *audit.Event) { x.ActorID, x.ActorName = "dave2", "Dave" }))
	b := e.browser(t)
	b.do("POST", "/login", url.Values{"token": {e.tokA}})
	_, page := b.do("GET", "/", nil)
	for _, s := range []string{`<strong class="community" id="community"><bdi>Tea &lt;b&gt;Room&lt;/b&gt;</bdi></strong>`,
		`<datalist id="user-names">`, `<option value="Dave">dave2</option>`, `<option value="Dave">dave</option>`} {
		if !strings.Contains(page, s) {
			t.Errorf("the log page lacks %q", s)
		}
	}
	// A name, an @username (any case), an id.
	for typed, want := range map[string]string{"@Davey": "dave", "dave": "dave", "DAVE": "dave2", "Erin": "erin", "nobody": "nobody"} {
		_, page := b.do("GET", "/?user="+url.QueryEscape(typed), nil)
		n := 0
		for _, part := range strings.Split(page, `<article class="entry`)[1:] {
			n++
			if !strings.Contains(part, `href="/member?user=`+want+`"`) {
				t.Errorf("user=%s: an entry not of %s:\n%s", typed, want, part)
			}
		}
		if n == 0 && want != "nobody" {
			t.Errorf("user=%s: no entries", typed)
		}
	}
	_, page = b.do("GET", "/?user=Dave", nil)
	if !strings.Contains(page, `id="user-note">Dave: dave2 (dave)`) {
		t.Errorf("the page does not say which Dave:\n%s", page)
	}
	_, page = b.do("GET", "/member?user=%40davey", nil)
	if !strings.Contains(page, `<dd id="messages">1</dd>`) {
		t.Errorf("member page by @username:\n%s", page)
	}
	_, page = b.do("GET", "/moderation", nil)
	if !strings.Contains(page, "<title>Moderation · Tea &lt;b&gt;Room&lt;/b&gt; · chatwarden</title>") {
		t.Errorf("the moderation page's title does not name the community")
	}
}

func TestSummaryPage(t *testing.T) {
	e := newEnv(t)
	e.clock.Add(base.Add(12 * time.Hour).Sub(e.clock.Now())) // the fixture's day, noon
	modFixture(e)
	at := func(d time.Duration) func(*audit.Event) { return func(x *audit.Event) { x.Time = base.Add(-d) } }
	raid := func(i, count int, status string) *audit.Event {
		return ev(50+i, audit.SecurityEvent, by3("bot", "chatwarden"), withParams(audit.ParamKind, audit.KindJoinRaid,
			paramRaidID, "r1", "raid_status", status, audit.ParamCount, strconv.Itoa(count)), func(x *audit.Event) { x.TargetIDs = []string{"a", "b"} })
	}
	e.record(ev(60, audit.UserBan, at(3*24*time.Hour), by3("alice", "Alice")), ev(61, audit.UserJoin, at(20*24*time.Hour)),
		ev(62, audit.UserJoin, at(40*24*time.Hour)), raid(1, 12, "ACTIVE"), raid(2, 25, "ENDED"),
		ev(63, audit.UserBan, at(2*24*time.Hour), by3("mallory", hostileName)))
	b := e.browser(t)
	b.do("POST", "/login", url.Values{"token": {e.tokA}})
	resp, page := b.do("GET", "/summary", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("summary: %d\n%s", resp.StatusCode, page)
	}
	row := func(typ string) string {
		i := strings.Index(page, `data-type="`+typ+`"`)
		if i < 0 {
			return ""
		}
		r := page[i:]
		r = r[:strings.Index(r, "</tr>")]
		var ns []string
		for _, part := range strings.Split(r, `<td class="n">`)[1:] {
			ns = append(ns, part[:strings.Index(part, "<")])
		}
		return strings.Join(ns, " ")
	}
	for typ, want := range map[string]string{"USER_BAN": "1 3 3", "USER_JOIN": "1 1 2", "SECURITY_EVENT": "3 3 3", "CHAT_MESSAGE": "1 1 1"} {
		if got := row(typ); got != want {
			t.Errorf("%s counts %q, want %q", typ, got, want)
		}
	}
	if row("CHANNEL_CREATE") != "" {
		t.Error("a type without records is listed")
	}
	mods := page[strings.Index(page, `id="moderators"`):]
	mods = mods[:strings.Index(mods, "</table>")]
	for _, s := range []string{
		`href="/member?user=alice"`, `<a href="/moderation?moderator=alice">4</a></td><td>ban 2, unban 1, timeout 1</td>`,
		`<a href="/moderation?moderator=bot">3</a></td><td>quarantine 1, link removed 1, verification failed 1</td>`,
		`<a href="/moderation?moderator=bob">2</a></td><td>kick 1, message deleted 1</td>`,
		`<a class="person" href="/member?user=mallory" title="mallory"><bdi>&lt;img src=x onerror=alert(1)&gt;Dave</bdi></a>`,
		`<bdi>` + longName + `</bdi>`, `<bdi>مدير</bdi>`,
	} {
		if !strings.Contains(mods, s) {
			t.Errorf("moderators lack %q:\n%s", s, mods)
		}
	}
	if strings.Index(mods, "user=alice") > strings.Index(mods, "user=bob") {
		t.Error("moderators are not ordered by their number of actions")
	}
	raids := page[strings.Index(page, `id="raids"`):]
	if strings.Count(raids, `<tr class="raid">`) != 1 || !strings.Contains(raids, `<td class="n">25</td><td>ENDED</td>`) {
		t.Errorf("raids:\n%s", raids[:strings.Index(raids, "</table>")])
	}
	for _, s := range []string{`<figure class="chart" id="chart-daily">`, `<figure class="chart" id="chart-members">`, `<rect class="cat-moderation"`,
		`<rect class="joins"`, `<title>10-01 · members:`} {
		if !strings.Contains(page, s) {
			t.Errorf("the charts lack %q", s)
		}
	}
	if strings.Contains(page, "<script") || strings.Contains(page, "<img src=x") || strings.Contains(page, " style=") {
		t.Error("script, unescaped name or inline style on the summary page")
	}
}

func by3(id, name string) func(*audit.Event) {
	return func(x *audit.Event) { x.ActorID, x.ActorName, x.ActorType = id, name, audit.ActorAdmin }
}

func TestBarChart(t *testing.T) {
	c := barChart("c", "t", []string{"a", "b"}, []chartSeries{{Class: "x", Label: "X", Values: []int{3, 0}}, {Class: "y", Label: "Y", Values: []int{1, 4}}}, true, 1)
	if len(c.Bars) != 3 {
		t.Fatalf("bars %+v", c.Bars)
	}
	// Column a stacks 3 then 1 on a scale of 4: together they fill the plot.
	h := func(b svgBar) float64 { f, _ := strconv.ParseFloat(b.H, 64); return f }
	plot := float64(chartH - chartTop - chartBottom)
	if got := h(c.Bars[0]) + h(c.Bars[1]); got < plot-0.2 || got > plot+0.2 {
		t.Errorf("stacked column height %v, want %v", got, plot)
	}
	for n, want := range map[int]int{0: 2, 1: 2, 3: 4, 7: 10, 11: 20, 41: 50, 101: 200} {
		if got := niceCeil(n); got != want {
			t.Errorf("niceCeil(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestViewerFoldsRaids(t *testing.T) {
	e := newEnv(t)
	var evs []*audit.Event
	evs = append(evs, ev(0, audit.ChatMessage))
	for i := 1; i <= 12; i++ {
		evs = append(evs, ev(i, audit.UserJoin))
	}
	evs = append(evs, ev(13, audit.SecurityEvent, withParams(audit.ParamKind, audit.KindJoinRaid, paramRaidID, "r1", audit.ParamCount, "12")),
		ev(14, audit.ChatMessage), ev(15, audit.UserJoin), ev(16, audit.UserJoin))
	e.record(evs...)
	b := e.browser(t)
	b.do("POST", "/login", url.Values{"token": {e.tokA}})
	_, page := b.do("GET", "/", nil)
	if n := strings.Count(page, `<details class="fold`); n != 1 {
		t.Fatalf("%d folds, want 1\n%s", n, page)
	}
	fold := page[strings.Index(page, `<details class="fold`):]
	fold = fold[:strings.Index(fold, "</details>")]
	if !strings.Contains(fold, "Join raid: 12 members joined ("+timeText(evs[1].Time)+" – "+timeText(evs[13].Time)+")") ||
		strings.Count(fold, `<article class="entry`) != 13 {
		t.Errorf("fold:\n%s", fold)
	}
	if n := strings.Count(page, `<article class="entry`); n != len(evs) {
		t.Errorf("%d entries on the page, want %d", n, len(evs))
	}
}

func TestPagesInTheCommunityLanguage(t *testing.T) {
	e := newEnv(t)
	m := modFixture(e)
	b := e.browser(t)
	b.do("POST", "/login", url.Values{"token": {e.tokA}})
	_, page := b.do("GET", "/record?id="+m["link"].ID.String(), nil)
	for _, s := range []string{"<dd>blocked domain</dd>", "<dd>done</dd>", "<dd>delete</dd>"} {
		if !strings.Contains(page, s) {
			t.Errorf("English record lacks %q", s)
		}
	}
	if strings.Contains(page, "<dd>DENYLIST</dd>") || strings.Contains(page, "<dd>DONE</dd>") {
		t.Error("raw enum values on the page")
	}
	_, page = b.do("GET", "/moderation?action=verify_fail", nil)
	if !strings.Contains(page, `<td class="reason" data-label="Reason">timed out</td>`) {
		t.Errorf("verification reason not in words:\n%s", page)
	}
	for _, c := range []struct{ locale, logout, moderation, word string }{
		{"fr", "Se déconnecter", "Modération", "<dd>domaine bloqué</dd>"},
		{"hi", "लॉग आउट", "मॉडरेशन", "<dd>अवरुद्ध डोमेन</dd>"},
	} {
		if _, _, err := e.store.UpdateSettings(context.Background(), audit.Discord, propA, func(s *settings.Community) error {
			s.Locale = c.locale
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		_, page = b.do("GET", "/record?id="+m["link"].ID.String(), nil)
		for _, s := range []string{`<html lang="` + c.locale + `">`, c.logout, c.moderation, c.word} {
			if !strings.Contains(page, s) {
				t.Errorf("%s: the record page lacks %q", c.locale, s)
			}
		}
		for _, path := range []string{"/summary", "/"} {
			_, page = b.do("GET", path, nil)
			if !strings.Contains(page, c.moderation) || !strings.Contains(page, c.logout) {
				t.Errorf("%s: %s labels", c.locale, path)
			}
		}
	}
}

// A security record's page names its kind with the words of its log
// entry (one table, logentry's), in the community's language.
func TestRecordNamesKindLikeItsEntry(t *testing.T) {
	e := newEnv(t)
	alert := ev(1, audit.SecurityEvent, withParams(audit.ParamKind, audit.KindUnauthorizedIntegration))
	e.record(alert)
	b := e.browser(t)
	b.do("POST", "/login", url.Values{"token": {e.tokA}})
	for _, c := range []struct{ locale, word string }{{"en", "unauthorized integration"}, {"hi", "अनधिकृत इंटीग्रेशन"}} {
		if _, _, err := e.store.UpdateSettings(context.Background(), audit.Discord, propA, func(s *settings.Community) error {
			s.Locale = c.locale
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if s := logentry.Render(alert, c.locale).Summary; !strings.Contains(s, c.word) {
			t.Fatalf("%s: the entry's summary %q does not name the kind %q", c.locale, s, c.word)
		}
		_, page := b.do("GET", "/record?id="+alert.ID.String(), nil)
		if !strings.Contains(page, "<dd>"+c.word+"</dd>") || strings.Contains(page, "<dd>"+audit.KindUnauthorizedIntegration+"</dd>") {
			t.Errorf("%s: the record page does not name the kind %q:\n%s", c.locale, c.word, page)
		}
	}
}

func TestPageLabelsComplete(t *testing.T) {
	for _, loc := range logentry.Locales() {
		for key := range pageLabels["en"] {
			if pageLabels[loc][key] == "" {
				t.Errorf("%s lacks the label %q", loc, key)
			}
		}
		for key := range enumWords["en"] {
			if enumWords[loc][key] == "" {
				t.Errorf("%s lacks the word for %q", loc, key)
			}
		}
	}
}

func TestRolePage(t *testing.T) {
	e := newEnv(t)
	given := ev(1, audit.UserUpdate, withParams(audit.ParamField, "roles", audit.ParamRolesAdded, "r1,r2"))
	taken := ev(2, audit.UserUpdate, withParams(audit.ParamField, "roles", audit.ParamRolesRemoved, "r1"))
	other := ev(3, audit.UserUpdate, withParams(audit.ParamField, "roles", audit.ParamRolesAdded, "r10"))
	e.record(given, taken, other, ev(4, audit.UserUpdate, inProp(audit.Telegram, propB), withParams(audit.ParamRolesAdded, "r1")))
	b := e.browser(t)
	b.do("POST", "/login", url.Values{"token": {e.tokA}})
	_, page := b.do("GET", "/record?id="+given.ID.String(), nil)
	if !strings.Contains(page, `<a class="role" href="/role?id=r1">@r1</a> <a class="role" href="/role?id=r2">@r2</a>`) {
		t.Errorf("the record does not link its roles:\n%s", page)
	}
	resp, page := b.do("GET", "/role?id=r1", nil)
	if resp.StatusCode != 200 || strings.Count(page, `<article class="entry`) != 2 ||
		!strings.Contains(page, given.ID.String()) || !strings.Contains(page, taken.ID.String()) || strings.Contains(page, other.ID.String()) {
		t.Errorf("role page: %d\n%s", resp.StatusCode, page)
	}
	if resp, _ := b.do("GET", "/role?id=a,b", nil); resp.StatusCode != 400 {
		t.Errorf("bad role id: %d", resp.StatusCode)
	}
}

// timeText is how a session that chose no time zone (UTC) shows t.
func timeText(t time.Time) string { return (&scope{}).timeText(t) }

// TestCommunityNameFromTheStore: the name a handler last saw for the
// community comes before the names the log recorded.
func TestCommunityNameFromTheStore(t *testing.T) {
	e := newEnv(t)
	e.record(ev(1, audit.PropertyUpdate, withParams("new_name", "Old Name")))
	b := e.browser(t)
	b.do("POST", "/login", url.Values{"token": {e.tokA}})
	if _, page := b.do("GET", "/summary", nil); !strings.Contains(page, `id="community"><bdi>Old Name</bdi>`) {
		t.Fatalf("recorded name:\n%s", page)
	}
	if err := e.store.SetPropertyName(audit.Discord, propA, "Riverside <Gardeners>"); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/", "/summary"} {
		if _, page := b.do("GET", path, nil); !strings.Contains(page, `id="community"><bdi>Riverside &lt;Gardeners&gt;</bdi>`) {
			t.Errorf("%s: the stored name is not shown:\n%s", path, page)
		}
	}
}
