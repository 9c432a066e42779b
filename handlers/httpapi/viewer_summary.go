package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/logentry"
	"github.com/chatwarden/chatwarden/store"
)

// The summary page: counts by type over three windows, actions per
// moderator and raids over 30 days, and two charts drawn as SVG.

// Raid params (moderation.ParamRaidID, moderation.ParamStartedAt).
const (
	paramRaidID    = "raid_id"
	paramStartedAt = "started_at"
)

// summaryDays is the span of the charts and the per-moderator figures.
const summaryDays = 30

type summaryPage struct {
	basePage
	Windows    []string
	Counts     []countRow
	Moderators []modCount
	Raids      []raidRow
	Daily      svgChart
	Members    svgChart
}

type countRow struct {
	Type, Label, Class string
	N                  [3]int
	URL                string // the log filtered by the type
}

type modCount struct {
	Moderator person
	Total     int
	Actions   string // "ban 2, kick 1"
	URL       string // the moderation view filtered by them
}

type raidRow struct {
	Time, Size, Status string
	URL                string // the joins of the raid in the log
	RecordURL          string
}

func (s *Server) handleSummary(w http.ResponseWriter, r *http.Request) {
	sc, ok := s.viewerScope(w, r, "summary")
	if !ok {
		return
	}
	page, err := s.summary(r, sc)
	if err != nil {
		s.fail(w, r, fmt.Errorf("summary page: %w", err))
		return
	}
	s.showPage(w, http.StatusOK, "summary", page)
}

func (s *Server) summary(r *http.Request, sc *scope) (*summaryPage, error) {
	ctx := r.Context()
	now := s.now().UTC()
	page := &summaryPage{basePage: sc.base}
	windows := []time.Duration{24 * time.Hour, 7 * 24 * time.Hour, summaryDays * 24 * time.Hour}
	page.Windows = []string{"24 h", "7 d", "30 d"}
	var counts [3]map[audit.EventType]int
	for i, d := range windows {
		c, err := s.store.Counts(ctx, sc.prop.Platform, sc.prop.ID, now.Add(-d), time.Time{})
		if err != nil {
			return nil, err
		}
		counts[i] = c
	}
	for _, t := range audit.EventTypes() {
		row := countRow{Type: t.String(), Label: render(&audit.Event{Type: t}, sc.locale).Title,
			Class: "cat-" + t.Category().String(), URL: sc.href("/", "type", t.String())}
		for i := range counts {
			row.N[i] = counts[i][t]
		}
		if row.N[2] > 0 {
			page.Counts = append(page.Counts, row)
		}
	}

	// Per day (days of the session's time zone): events by category,
	// joins and removals.
	loc := sc.loc
	if loc == nil {
		loc = time.UTC
	}
	today := now.In(loc)
	day0 := time.Date(today.Year(), today.Month(), today.Day()-(summaryDays-1), 0, 0, 0, 0, loc)
	labels := make([]string, summaryDays)
	cats := []audit.Category{audit.CategoryMembers, audit.CategoryMessages, audit.CategoryModeration, audit.CategoryServer}
	bycat := make([]chartSeries, len(cats))
	for i, c := range cats {
		bycat[i] = chartSeries{Class: "cat-" + c.String(), Label: pageLabel(sc.locale, "cat_"+c.String()), Values: make([]int, summaryDays)}
	}
	joins := chartSeries{Class: "joins", Label: pageLabel(sc.locale, "joins"), Values: make([]int, summaryDays)}
	leaves := chartSeries{Class: "leaves", Label: pageLabel(sc.locale, "removals"), Values: make([]int, summaryDays)}
	for d := range summaryDays {
		from := day0.AddDate(0, 0, d) // a day may be 23 or 25 hours long
		labels[d] = from.Format("01-02")
		c, err := s.store.Counts(ctx, sc.prop.Platform, sc.prop.ID, from.UTC(), from.AddDate(0, 0, 1).UTC())
		if err != nil {
			return nil, err
		}
		for t, n := range c {
			for i, cat := range cats {
				if t.Category() == cat {
					bycat[i].Values[d] += n
				}
			}
		}
		joins.Values[d], leaves.Values[d] = c[audit.UserJoin], c[audit.UserRemove]
	}
	page.Daily = barChart("chart-daily", pageLabel(sc.locale, "chart_daily"), labels, bycat, true, 5)
	page.Members = barChart("chart-members", pageLabel(sc.locale, "chart_members"), labels, []chartSeries{joins, leaves}, false, 5)

	// Moderators and raids over the same 30 days.
	since := now.Add(-windows[2])
	per := map[string]*struct {
		who     person
		total   int
		actions map[string]int
	}{}
	n := 0
	err := s.store.Scan(ctx, store.Query{Platform: sc.prop.Platform, Property: sc.prop.ID, Types: modTypes, Since: since}, func(e *audit.Event) error {
		if n++; n > memberScanMax {
			return errEnough
		}
		act, _ := moderatorAction(e)
		if act == "" {
			return nil
		}
		key := e.ActorID
		if key == "" {
			key = "name:" + e.ActorName
		}
		m := per[key]
		if m == nil {
			m = &struct {
				who     person
				total   int
				actions map[string]int
			}{who: sc.person(e.ActorID, e.ActorName), actions: map[string]int{}}
			if m.who.Name == "" && m.who.ID == "" {
				m.who.Name = logentry.Word(sc.locale, "someone")
			}
			per[key] = m
		}
		m.total++
		m.actions[act]++
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, err
	}
	for _, m := range per {
		mc := modCount{Moderator: m.who, Total: m.total, URL: sc.href("/moderation", "moderator", m.who.ID)}
		for _, a := range modActions {
			if k := m.actions[a.key]; k > 0 {
				if mc.Actions != "" {
					mc.Actions += ", "
				}
				mc.Actions += pageLabel(sc.locale, "act_"+a.key) + " " + strconv.Itoa(k)
			}
		}
		page.Moderators = append(page.Moderators, mc)
	}
	sort.Slice(page.Moderators, func(i, j int) bool {
		a, b := page.Moderators[i], page.Moderators[j]
		if a.Total != b.Total {
			return a.Total > b.Total
		}
		return a.Moderator.ID < b.Moderator.ID
	})
	return page, s.raids(r, sc, since, page)
}

// raids lists the join raids since then, one row a raid (its records
// share a raid_id), newest first.
func (s *Server) raids(r *http.Request, sc *scope, since time.Time, page *summaryPage) error {
	type raid struct {
		first, last time.Time
		size        int
		status      string
		id          audit.ID
	}
	byID := map[string]*raid{}
	var order []string
	err := s.store.Scan(r.Context(), store.Query{Platform: sc.prop.Platform, Property: sc.prop.ID, Types: []audit.EventType{audit.SecurityEvent}, Since: since}, func(e *audit.Event) error {
		if e.Params[audit.ParamKind] != audit.KindJoinRaid {
			return nil
		}
		key := e.Params[paramRaidID]
		if key == "" {
			key = e.ID.String()
		}
		rd := byID[key]
		if rd == nil { // the newest record of the raid: its standing
			rd = &raid{last: e.Time, status: e.Params["raid_status"], id: e.ID}
			byID[key] = rd
			order = append(order, key)
		}
		rd.first = e.Time
		if t, err := time.Parse(time.RFC3339, e.Params[paramStartedAt]); err == nil && t.Before(rd.first) {
			rd.first = t
		}
		if c, err := strconv.Atoi(e.Params[audit.ParamCount]); err == nil && c > rd.size {
			rd.size = c
		}
		if rd.size < len(e.TargetIDs) {
			rd.size = len(e.TargetIDs)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, key := range order {
		rd := byID[key]
		page.Raids = append(page.Raids, raidRow{Time: sc.timeText(rd.first), Size: strconv.Itoa(rd.size), Status: rd.status,
			URL: sc.href("/", "type", audit.UserJoin.String(), "since", rd.first.Add(-time.Second).Format(time.RFC3339),
				"until", rd.last.Add(time.Second).Format(time.RFC3339)),
			RecordURL: sc.recordURL(rd.id)})
	}
	return nil
}
