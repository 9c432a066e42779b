package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/chatwarden/chatwarden/moderation"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/verification"
)

// An engineSection is a top-level section of the file whose keys are an
// engine's settings: their names, defaults and bounds come from the
// engine's one definition of each (settings.Defs), not from this package.
type engineSection struct {
	top  string // the top-level key: "moderation"
	path string // what a setting's name is prefixed with in the file
	// names lists the settings the file may set; set sets one.
	names func() []string
	set   func(c *Config, name string, v []string) error
}

var engineSections = []engineSection{
	{top: "moderation", path: "moderation.",
		names: func() []string { return operatorNames(moderation.Settings) },
		set: func(c *Config, name string, v []string) error {
			return moderation.Settings.SetDefault(&c.Moderation, name, v)
		}},
	// The verification settings are named "verification.timeout" already.
	{top: "verification", path: "",
		names: func() []string { return operatorNames(verification.Settings) },
		set: func(c *Config, name string, v []string) error {
			return verification.Settings.SetDefault(&c.Verification, name, v)
		}},
}

// operatorNames lists the settings of defs that the config file may set.
func operatorNames[D any](defs settings.Defs[D]) []string {
	var out []string
	for _, d := range defs {
		if d.Scope != settings.CommunityOnly {
			out = append(out, d.Name)
		}
	}
	return out
}

// engineSections parses the engines' sections of root into c, and removes
// them from root so that the rest is decoded as Config's own fields.
func (c *Config) engineSections(file string, root *yaml.Node, lines map[string]int) error {
	kept := root.Content[:0:0]
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		j := slices.IndexFunc(engineSections, func(s engineSection) bool { return s.top == k.Value })
		if j < 0 {
			kept = append(kept, k, v)
			continue
		}
		if line, dup := seen[k.Value]; dup {
			return &Error{File: file, Line: k.Line, Key: k.Value, Msg: fmt.Sprintf("duplicate key (first set on line %d)", line)}
		}
		seen[k.Value] = k.Line
		lines[k.Value] = v.Line
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			continue
		}
		sec := engineSections[j]
		if v.Kind != yaml.MappingNode {
			return &Error{File: file, Line: v.Line, Key: k.Value, Msg: "must be a mapping of keys to values"}
		}
		// The section's own keys are the settings' names below the
		// section's path ("link_filter.mode" in moderation; "timeout" in
		// verification, whose settings are "verification.timeout").
		below := strings.TrimPrefix(k.Value+".", sec.path)
		if err := c.engineKeys(file, v, sec, below, k.Value+".", lines); err != nil {
			return err
		}
	}
	root.Content = kept
	return nil
}

// engineKeys walks one mapping of an engine section: prefix is the part
// of the settings' names above it ("link_filter."), at its path in the
// file ("moderation.link_filter.").
func (c *Config) engineKeys(file string, m *yaml.Node, sec engineSection, prefix, at string, lines map[string]int) error {
	names := sec.names()
	var here []string // the keys this mapping may hold
	for _, n := range names {
		if rest, ok := strings.CutPrefix(n, prefix); ok {
			if key, _, _ := strings.Cut(rest, "."); !slices.Contains(here, key) {
				here = append(here, key)
			}
		}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		path := at + k.Value
		if line, dup := seen[k.Value]; dup {
			return &Error{File: file, Line: k.Line, Key: path, Msg: fmt.Sprintf("duplicate key (first set on line %d)", line)}
		}
		seen[k.Value] = k.Line
		if !slices.Contains(here, k.Value) {
			msg := fmt.Sprintf("unknown key %q in %s", k.Value, strings.TrimSuffix(at, "."))
			if s := suggest(k.Value, here); s != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", s)
			}
			return &Error{File: file, Line: k.Line, Msg: msg}
		}
		lines[path] = v.Line
		name := prefix + k.Value
		if !slices.Contains(names, name) { // a group of settings
			if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				continue
			}
			if v.Kind != yaml.MappingNode {
				return &Error{File: file, Line: v.Line, Key: path, Msg: "must be a mapping of keys to values"}
			}
			if err := c.engineKeys(file, v, sec, name+".", path+".", lines); err != nil {
				return err
			}
			continue
		}
		vals, err := values(v)
		if err == nil {
			err = sec.set(c, name, vals)
		}
		if err != nil {
			msg, _ := strings.CutPrefix(err.Error(), settings.ErrBadValue.Error()+": ")
			return &Error{File: file, Line: v.Line, Key: path, Msg: msg}
		}
	}
	return nil
}

// values reads a setting's value: a scalar is one item, a sequence of
// scalars its items, an empty value no item.
func values(v *yaml.Node) ([]string, error) {
	switch {
	case v.Kind == yaml.ScalarNode && v.Tag == "!!null":
		return nil, nil
	case v.Kind == yaml.ScalarNode:
		return []string{v.Value}, nil
	case v.Kind == yaml.SequenceNode:
		out := make([]string, 0, len(v.Content))
		for _, item := range v.Content {
			if item.Kind != yaml.ScalarNode {
				return nil, errors.New("a list of plain values is expected")
			}
			out = append(out, item.Value)
		}
		return out, nil
	}
	return nil, errors.New("a value or a list of values is expected")
}
