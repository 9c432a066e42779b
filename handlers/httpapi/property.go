package httpapi

import (
	"fmt"
	"strings"

	"github.com/chatwarden/chatwarden/audit"
)

// Property names what a request reads: one property, or every property
// (operator only) when All is set.
type Property struct {
	Platform audit.Platform
	ID       string
	All      bool
}

// AllProperties is the path segment that stands for every property; only
// the operator token may use it.
const AllProperties = "all"

// String returns the path form, discord:ID, telegram:ID or all.
func (p Property) String() string {
	if p.All {
		return AllProperties
	}
	return p.Platform.String() + ":" + p.ID
}

// ParseProperty parses the {property} path segment strictly: "discord:"
// followed by a Discord snowflake (decimal, no sign, no leading zero), or
// "telegram:" followed by a Telegram chat id (decimal, optionally negative,
// no leading zero), or "all". Platform names are lower case.
func ParseProperty(s string) (Property, error) {
	if s == AllProperties {
		return Property{All: true}, nil
	}
	name, id, ok := strings.Cut(s, ":")
	if !ok {
		return Property{}, fmt.Errorf("%q is not PLATFORM:ID (e.g. discord:123456789012345678 or telegram:-1001234567890) or all", s)
	}
	var p audit.Platform
	switch name {
	case "discord":
		p = audit.Discord
	case "telegram":
		p = audit.Telegram
	default:
		return Property{}, fmt.Errorf("%q: platform must be discord or telegram", s)
	}
	digits := id
	if p == audit.Telegram {
		digits = strings.TrimPrefix(id, "-")
	}
	if !isDecimal(digits) || len(digits) > 20 {
		return Property{}, fmt.Errorf("%q: the %s id must be a decimal number of at most 20 digits without leading zeros", s, name)
	}
	return Property{Platform: p, ID: id}, nil
}

// isDecimal reports whether s is a non-empty run of ASCII digits without a
// leading zero (0 itself is not a valid property id).
func isDecimal(s string) bool {
	if s == "" || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
