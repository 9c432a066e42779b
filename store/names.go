package store

import (
	"errors"
	"fmt"

	"github.com/chatwarden/chatwarden/audit"
)

// nsPropertyNames keeps each property's name as its handler last saw it
// (a Discord server's name, a Telegram group's title), for the pages that
// show a community by name: platform byte + id -> name.
const nsPropertyNames = "store/property_names"

func propertyNameKey(p audit.Platform, id string) []byte {
	return append([]byte{byte(p)}, id...)
}

// SetPropertyName remembers a property's current name; an unchanged name
// writes nothing.
func (s *Store) SetPropertyName(p audit.Platform, id, name string) error {
	if id == "" || name == "" {
		return nil
	}
	name = audit.Cut(name, 256)
	if old, err := s.PropertyName(p, id); err == nil && old == name {
		return nil
	}
	if err := s.Put(nsPropertyNames, propertyNameKey(p, id), []byte(name)); err != nil {
		return fmt.Errorf("name of %s:%s: %w", p, id, err)
	}
	return nil
}

// PropertyName returns the name SetPropertyName last stored for a
// property, "" when none was.
func (s *Store) PropertyName(p audit.Platform, id string) (string, error) {
	v, err := s.GetKV(nsPropertyNames, propertyNameKey(p, id))
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return string(v), nil
}
