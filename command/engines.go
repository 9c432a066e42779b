package command

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/moderation"
	"github.com/chatwarden/chatwarden/settings"
	"github.com/chatwarden/chatwarden/verification"
)

// The engine settings are the keys of the moderation engines, of
// verification and of privacy ("link_filter.mode", "verification.timeout",
// "retention_days") that a property's admins may change from chat:
// /config set on Discord, /settings on Telegram.
var engines = []settings.Table{moderation.Keys, verification.Keys, privacyKeys}

// EngineSettingKeys lists every engine setting, in a stable order.
func EngineSettingKeys() []string {
	var out []string
	for _, t := range engines {
		out = append(out, t.Names()...)
	}
	return out
}

func engineFor(key string) (settings.Table, string, error) {
	key = strings.ToLower(strings.TrimSpace(key))
	for _, t := range engines {
		if t.Has(key) {
			return t, key, nil
		}
	}
	return nil, key, bad("setting", "%q is not a setting; the settings are %s", key, strings.Join(EngineSettingKeys(), ", "))
}

// GetEngineSetting returns the property's own value of an engine setting,
// "" when it follows the operator's default.
func GetEngineSetting(s settings.Community, key string) (string, error) {
	e, key, err := engineFor(key)
	if err != nil {
		return "", err
	}
	return e.Get(s, key)
}

// SetEngineSetting changes one engine setting of a property and records
// SETTINGS_CHANGE with its old and new value. "default" (or an empty value)
// returns it to the operator's default. A bad value is an ErrBadArgument
// whose message says what is allowed.
func (c *Settings) SetEngineSetting(ctx context.Context, scope Scope, admin Admin, key, value string) (settings.Community, error) {
	e, key, err := engineFor(key)
	if err != nil {
		return settings.Community{}, err
	}
	value = strings.TrimSpace(value)
	if len(value) > 4000 {
		return settings.Community{}, bad(key, "the value is too long")
	}
	return c.change(ctx, scope, admin, key, func(s *settings.Community) error {
		if err := e.Set(s, key, value); err != nil {
			if errors.Is(err, settings.ErrBadValue) || errors.Is(err, settings.ErrUnknown) {
				return fmt.Errorf("%w: %v", ErrBadArgument, err)
			}
			return err
		}
		return nil
	}, func(s settings.Community) string {
		v, _ := e.Get(s, key)
		return v
	})
}

// SettingChange is one engine setting and the value to give it.
type SettingChange struct{ Key, Value string }

// SetEngineSettings changes several engine settings of a property at once:
// all or none are saved, and one SETTINGS_CHANGE records them (setting
// lists the keys that changed, comma-separated; old_<key> and new_<key>
// carry each value), so that one command is one log entry. Keys whose
// value does not change are left out; nothing is recorded when none
// changes. A single change is recorded as SetEngineSetting records it.
func (c *Settings) SetEngineSettings(ctx context.Context, scope Scope, admin Admin, changes []SettingChange) (settings.Community, error) {
	type resolved struct {
		t        settings.Table
		key, val string
	}
	var rs []resolved
	for _, ch := range changes {
		t, key, err := engineFor(ch.Key)
		if err != nil {
			return settings.Community{}, err
		}
		v := strings.TrimSpace(ch.Value)
		if len(v) > 4000 {
			return settings.Community{}, bad(key, "the value is too long")
		}
		rs = append(rs, resolved{t, key, v})
	}
	old, updated, err := c.Store.UpdateSettings(ctx, scope.Platform, scope.Property, func(s *settings.Community) error {
		for _, r := range rs {
			if err := r.t.Set(s, r.key, r.val); err != nil {
				if errors.Is(err, settings.ErrBadValue) || errors.Is(err, settings.ErrUnknown) {
					return fmt.Errorf("%w: %v", ErrBadArgument, err)
				}
				return fmt.Errorf("set %s: %w", r.key, err)
			}
		}
		return nil
	})
	if err != nil {
		return old, err
	}
	if c.Router != nil {
		c.Router.Update(scope.Platform, scope.Property, updated)
	}
	type diff struct{ key, old, new string }
	var diffs []diff
	for _, r := range rs {
		o, _ := r.t.Get(old, r.key)
		n, _ := r.t.Get(updated, r.key)
		if o != n && !slices.ContainsFunc(diffs, func(d diff) bool { return d.key == r.key }) {
			diffs = append(diffs, diff{r.key, o, n})
		}
	}
	if len(diffs) == 0 {
		return updated, nil
	}
	e := &audit.Event{Platform: scope.Platform, PropertyID: scope.Property, Type: audit.SettingsChange,
		PlatformType: "command", Function: audit.FuncCommand, ActorType: audit.ActorAdmin,
		ActorID: admin.ID, ActorName: admin.Name}
	if len(diffs) == 1 {
		e.Params.Set(audit.ParamSetting, diffs[0].key)
		e.Params.Set(audit.ParamOldValue, diffs[0].old)
		e.Params.Set(audit.ParamNewValue, diffs[0].new)
	} else {
		keys := make([]string, len(diffs))
		for i, d := range diffs {
			keys[i] = d.key
			e.Params.Set("old_"+d.key, d.old)
			e.Params.Set("new_"+d.key, d.new)
		}
		e.Params.Set(audit.ParamSetting, strings.Join(keys, ", "))
	}
	if err := c.Recorder.Record(ctx, e); err != nil {
		return updated, fmt.Errorf("record the settings change: %w", err)
	}
	return updated, nil
}

// ShowEngineSettings describes the engine settings a property changed
// ("key: value"); every other key follows the operator's defaults.
func ShowEngineSettings(s settings.Community) []string {
	var out []string
	for _, key := range EngineSettingKeys() {
		if v, err := GetEngineSetting(s, key); err == nil && v != "" {
			out = append(out, key+": "+v)
		}
	}
	if len(out) == 0 {
		return []string{"moderation and verification: the operator's defaults"}
	}
	return out
}
