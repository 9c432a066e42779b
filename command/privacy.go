package command

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/chatwarden/chatwarden/settings"
)

// A property's privacy settings, changed like the engines' settings:
// whether message text is kept, and how long records are.
const (
	KeyStoreContent  = "store_message_content"
	KeyRetentionDays = "retention_days"
)

// maxRetentionDays bounds a property's own retention (ten years).
const maxRetentionDays = 3650

// privacyKeys are a property's privacy settings.
var privacyKeys = settings.Table{
	settings.Bool(KeyStoreContent, func(s *settings.Community) **bool { return &s.StoreContent }),
	settings.NewKey(KeyRetentionDays,
		func(s *settings.Community) string {
			if s.RetentionDays == 0 {
				return ""
			}
			return strconv.Itoa(s.RetentionDays)
		},
		func(s *settings.Community, value string) error {
			v := strings.ToLower(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(value), "d")))
			if v == "" || v == "default" {
				s.RetentionDays = 0
				return nil
			}
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > maxRetentionDays {
				return fmt.Errorf("%w: %q is not a number of days from 1 to %d (or default)", settings.ErrBadValue, value, maxRetentionDays)
			}
			s.RetentionDays = n
			return nil
		}),
}
