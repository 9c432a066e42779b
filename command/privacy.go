package command

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/chatwarden/chatwarden/bot"
	"github.com/chatwarden/chatwarden/moderation"
)

// A property's privacy settings, changed like the engines' settings:
// whether message text is kept, and how long records are.
const (
	KeyStoreContent  = "store_message_content"
	KeyRetentionDays = "retention_days"
)

// maxRetentionDays bounds a property's own retention (ten years).
const maxRetentionDays = 3650

func privacyKeys() []string { return []string{KeyStoreContent, KeyRetentionDays} }

func getPrivacy(s bot.Settings, key string) (string, error) {
	switch key {
	case KeyStoreContent:
		return moderation.FormatBool(s.StoreContent), nil
	case KeyRetentionDays:
		if s.RetentionDays == 0 {
			return "", nil
		}
		return strconv.Itoa(s.RetentionDays), nil
	}
	return "", fmt.Errorf("%w: %s", moderation.ErrUnknownSetting, key)
}

func setPrivacy(s *bot.Settings, key, value string) error {
	switch key {
	case KeyStoreContent:
		b, err := moderation.ParseBool(value)
		if err != nil {
			return err
		}
		s.StoreContent = b
		return nil
	case KeyRetentionDays:
		v := strings.ToLower(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(value), "d")))
		if v == "" || v == "default" {
			s.RetentionDays = 0
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxRetentionDays {
			return fmt.Errorf("%w: %q is not a number of days from 1 to %d (or default)", moderation.ErrBadValue, value, maxRetentionDays)
		}
		s.RetentionDays = n
		return nil
	}
	return fmt.Errorf("%w: %s", moderation.ErrUnknownSetting, key)
}
