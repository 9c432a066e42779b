package command

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
