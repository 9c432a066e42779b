// Package doctor is the report of `chatwarden doctor`, Discord's
// `/config doctor` and Telegram's `/doctor`: what chatwarden needs of a
// platform, a community and the machine, each requirement checked with
// ✓ or ✗ and, when it does not hold, the fix in one sentence.
//
// The checks that ask a platform are computed by its handler package (the
// only place its library is used) and returned as Sections of this
// platform-neutral model; the CLI and the chat commands only render them.
// This package imports no other chatwarden package.
package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Check is one requirement.
type Check struct {
	// Name says what is required, as a short phrase ("token valid").
	Name string `json:"name"`
	OK   bool   `json:"ok"`
	// Detail says what was found, when that helps ("12.3 GiB free").
	Detail string `json:"detail,omitempty"`
	// Fix is one sentence telling how to make the check pass; set when
	// it fails.
	Fix string `json:"fix,omitempty"`
	// Advisory checks report but are not needed: a failed advisory check
	// does not fail the report.
	Advisory bool `json:"advisory,omitempty"`
}

// Section is the checks of one platform, one community or the store.
type Section struct {
	// Platform is "discord", "telegram" or "storage".
	Platform string `json:"platform"`
	// Community is the guild or chat id ("" for the platform or store as
	// a whole); Name is its title when known.
	Community string  `json:"community,omitempty"`
	Name      string  `json:"name,omitempty"`
	Checks    []Check `json:"checks"`
}

// Pass adds a check that holds.
func (s *Section) Pass(name, detail string) {
	s.Checks = append(s.Checks, Check{Name: name, OK: true, Detail: detail})
}

// Fail adds a needed check that does not hold, with its fix.
func (s *Section) Fail(name, detail, fix string) {
	s.Checks = append(s.Checks, Check{Name: name, Detail: detail, Fix: fix})
}

// Warn adds an advisory check that does not hold, with its fix.
func (s *Section) Warn(name, detail, fix string) {
	s.Checks = append(s.Checks, Check{Name: name, Detail: detail, Fix: fix, Advisory: true})
}

// Check adds a needed check that holds when ok.
func (s *Section) Check(ok bool, name, detail, fix string) {
	if ok {
		s.Pass(name, detail)
	} else {
		s.Fail(name, detail, fix)
	}
}

// OK reports whether every needed check of the section holds.
func (s *Section) OK() bool {
	for _, c := range s.Checks {
		if !c.OK && !c.Advisory {
			return false
		}
	}
	return true
}

// Report is the whole diagnosis.
type Report struct {
	OK       bool      `json:"ok"`
	Sections []Section `json:"sections"`
}

// Add appends sections and updates OK.
func (r *Report) Add(sections ...Section) {
	r.Sections = append(r.Sections, sections...)
	r.OK = true
	for i := range r.Sections {
		if !r.Sections[i].OK() {
			r.OK = false
		}
	}
}

// Failed returns the checks that do not hold (advisory ones included),
// each with the title of its section.
func (r *Report) Failed() []Check {
	var out []Check
	for _, s := range r.Sections {
		for _, c := range s.Checks {
			if !c.OK {
				out = append(out, c)
			}
		}
	}
	return out
}

// Title is how a section is headed: "discord", "discord guild Name (id)".
func (s *Section) Title() string {
	t := s.Platform
	switch {
	case s.Community != "" && s.Name != "":
		t += " " + s.Name + " (" + s.Community + ")"
	case s.Community != "":
		t += " " + s.Community
	case s.Name != "":
		t += " " + s.Name
	}
	return t
}

// Mark is ✓ for a check that holds, ✗ for one that does not and ! for an
// advisory one that does not.
func (c Check) Mark() string {
	switch {
	case c.OK:
		return "✓"
	case c.Advisory:
		return "!"
	}
	return "✗"
}

// Line is the check on one line: mark, name, detail, and the fix.
func (c Check) Line() string {
	var b strings.Builder
	b.WriteString(c.Mark() + " " + c.Name)
	if c.Detail != "" {
		b.WriteString(": " + c.Detail)
	}
	if !c.OK && c.Fix != "" {
		b.WriteString(" — " + c.Fix)
	}
	return b.String()
}

// WriteText writes the report for a terminal: a heading per section, a
// line per check, and a closing verdict.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, s := range r.Sections {
		b.WriteString(s.Title() + "\n")
		for _, c := range s.Checks {
			b.WriteString("  " + c.Line() + "\n")
		}
	}
	if r.OK {
		b.WriteString("everything chatwarden needs is in place\n")
	} else {
		fmt.Fprintf(&b, "%d check(s) need attention (✗ above)\n", r.needed())
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Report) needed() int {
	n := 0
	for _, c := range r.Failed() {
		if !c.Advisory {
			n++
		}
	}
	return n
}

// WriteJSON writes the report as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
