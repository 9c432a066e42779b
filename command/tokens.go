package command

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/logentry"
	"github.com/chatwarden/chatwarden/recorder"
	"github.com/chatwarden/chatwarden/store"
)

// TokenNamespace is the store key-value namespace of API tokens: the key is
// the SHA-256 of the token, the value a JSON TokenInfo without its ID.
const TokenNamespace = "api/tokens"

// TokenPrefix starts every property token; 43 characters of unpadded
// base64url (32 random bytes) follow it.
const TokenPrefix = "cw_"

const tokenLen = len(TokenPrefix) + 43

// MaxTokensPerProperty caps the live tokens of one property.
const MaxTokensPerProperty = 25

// ErrTokenNotFound is returned by Revoke for an unknown token id, or one of
// another property.
var ErrTokenNotFound = errors.New("no such API token in this property")

// ErrTooManyTokens is returned by Create when a property has
// MaxTokensPerProperty tokens already.
var ErrTooManyTokens = fmt.Errorf("a property may have at most %d API tokens: revoke one first", MaxTokensPerProperty)

// TokenKV is the part of *store.Store that Tokens uses.
type TokenKV interface {
	Put(ns string, key, value []byte) error
	GetKV(ns string, key []byte) ([]byte, error)
	DeleteKV(ns string, key []byte) error
	ScanKV(ns string, prefix []byte, fn func(key, value []byte) error) error
}

var _ TokenKV = (*store.Store)(nil)

// EventRecorder records audit events; *recorder.Recorder is one.
type EventRecorder interface {
	Record(ctx context.Context, events ...*audit.Event) error
}

var _ EventRecorder = (*recorder.Recorder)(nil)

// ParamTokenID names the token concerned in a record: its TokenID, never
// the token.
const ParamTokenID = "token_id"

// TokenInfo describes a property token. The token itself is never stored:
// only its hash, of which ID is the first 8 bytes in hex, enough to name
// the token in a list or a revocation.
type TokenInfo struct {
	ID            string         `json:"-"`
	Platform      audit.Platform `json:"platform"`
	Property      string         `json:"property"`
	Created       time.Time      `json:"created"`
	CreatedBy     string         `json:"created_by"`
	CreatedByName string         `json:"created_by_name,omitempty"`
	Label         string         `json:"label,omitempty"`
}

// Tokens creates, checks, lists and revokes property tokens. Creation and
// revocation are recorded as SETTINGS_CHANGE events of the property (with
// the token's id, never the token). The Discord (/config api-token) and
// Telegram (/apitoken) command adapters call Create, List and Revoke after
// checking that the caller is an admin of the property.
type Tokens struct {
	kv  TokenKV
	rec EventRecorder
	// Now is the clock of creation times (default time.Now).
	Now func() time.Time
}

// NewTokens returns a token manager keeping hashes in kv and recording
// changes through rec.
func NewTokens(kv TokenKV, rec EventRecorder) *Tokens {
	return &Tokens{kv: kv, rec: rec, Now: time.Now}
}

// tokenHash returns the storage key of a token.
func tokenHash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// TokenID returns the id under which a token is listed: the first 8 bytes
// of its SHA-256 in hex. It is safe to show and to log.
func TokenID(token string) string { return hex.EncodeToString(tokenHash(token)[:8]) }

// WellFormedToken reports whether s has the shape of a property token.
func WellFormedToken(s string) bool {
	rest, ok := strings.CutPrefix(s, TokenPrefix)
	if !ok || len(s) != tokenLen {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	return err == nil && len(b) == 32
}

// Create makes a new token for a property and records the creation. The
// token is returned once, to be shown to the admin once; only its hash is
// kept. label is an optional note (at most 100 bytes kept).
func (t *Tokens) Create(ctx context.Context, p audit.Platform, property string, by Admin, label string) (string, TokenInfo, error) {
	if !p.Valid() || property == "" {
		return "", TokenInfo{}, fmt.Errorf("create API token: invalid property %s %q", p, property)
	}
	list, err := t.List(ctx, p, property)
	if err != nil {
		return "", TokenInfo{}, fmt.Errorf("create API token: %w", err)
	}
	if len(list) >= MaxTokensPerProperty {
		return "", TokenInfo{}, fmt.Errorf("create API token: %w", ErrTooManyTokens)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", TokenInfo{}, fmt.Errorf("create API token: %w", err)
	}
	token := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	info := TokenInfo{
		ID: TokenID(token), Platform: p, Property: property, Created: t.Now().UTC(),
		CreatedBy: by.ID, CreatedByName: audit.Cut(by.Name, audit.MaxNameLen), Label: logentry.OneLine(label, 100),
	}
	v, err := json.Marshal(info)
	if err != nil {
		return "", TokenInfo{}, fmt.Errorf("create API token: %w", err)
	}
	if err := t.kv.Put(TokenNamespace, tokenHash(token), v); err != nil {
		return "", TokenInfo{}, fmt.Errorf("create API token: %w", err)
	}
	e := t.change(p, property, by, info.ID, "", "created")
	e.Params.Set("label", info.Label)
	if err := t.rec.Record(ctx, e); err != nil {
		// A token whose creation is not on record must not work.
		if derr := t.kv.DeleteKV(TokenNamespace, tokenHash(token)); derr != nil {
			err = errors.Join(err, derr)
		}
		return "", TokenInfo{}, fmt.Errorf("create API token: record the change: %w", err)
	}
	return token, info, nil
}

// change builds the SETTINGS_CHANGE record of a token's creation or
// revocation.
func (t *Tokens) change(p audit.Platform, property string, by Admin, id, old, updated string) *audit.Event {
	e := &audit.Event{Platform: p, PropertyID: property, Type: audit.SettingsChange, PlatformType: "command",
		Function: audit.FuncCommand, ActorType: audit.ActorAdmin, ActorID: by.ID, ActorName: by.Name}
	e.Params.Set(audit.ParamSetting, "api_token")
	e.Params.Set(ParamTokenID, id)
	e.Params.Set(audit.ParamOldValue, old)
	e.Params.Set(audit.ParamNewValue, updated)
	return e
}

// Lookup returns the token's description, or ErrTokenNotFound. It never
// logs or keeps the token.
func (t *Tokens) Lookup(ctx context.Context, token string) (TokenInfo, error) {
	if !WellFormedToken(token) {
		return TokenInfo{}, ErrTokenNotFound
	}
	v, err := t.kv.GetKV(TokenNamespace, tokenHash(token))
	if errors.Is(err, store.ErrNotFound) {
		return TokenInfo{}, ErrTokenNotFound
	}
	if err != nil {
		return TokenInfo{}, fmt.Errorf("look up API token: %w", err)
	}
	info, err := decodeToken(tokenHash(token), v)
	if err != nil {
		return TokenInfo{}, fmt.Errorf("look up API token: %w", err)
	}
	return info, nil
}

// TokenHash returns the SHA-256 under which a token is kept: what a
// viewer session keeps instead of the token.
func TokenHash(token string) []byte { return tokenHash(token) }

// LookupHash is Lookup by the token's hash (TokenHash); ErrTokenNotFound
// once the token is revoked.
func (t *Tokens) LookupHash(ctx context.Context, hash []byte) (TokenInfo, error) {
	if len(hash) != sha256.Size {
		return TokenInfo{}, ErrTokenNotFound
	}
	v, err := t.kv.GetKV(TokenNamespace, hash)
	if errors.Is(err, store.ErrNotFound) || err == nil && v == nil {
		return TokenInfo{}, ErrTokenNotFound
	}
	if err != nil {
		return TokenInfo{}, fmt.Errorf("look up API token: %w", err)
	}
	info, err := decodeToken(hash, v)
	if err != nil {
		return TokenInfo{}, fmt.Errorf("look up API token: %w", err)
	}
	return info, nil
}

func decodeToken(key, v []byte) (TokenInfo, error) {
	var info TokenInfo
	if err := json.Unmarshal(v, &info); err != nil {
		return info, fmt.Errorf("token %x: %w", key[:8], err)
	}
	info.ID = hex.EncodeToString(key[:8])
	return info, nil
}

// List returns a property's tokens, oldest first.
func (t *Tokens) List(ctx context.Context, p audit.Platform, property string) ([]TokenInfo, error) {
	var out []TokenInfo
	err := t.kv.ScanKV(TokenNamespace, nil, func(k, v []byte) error {
		if len(k) != sha256.Size {
			return nil
		}
		info, err := decodeToken(k, v)
		if err != nil {
			return err
		}
		if info.Platform == p && info.Property == property {
			out = append(out, info)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list API tokens of %s %s: %w", p, property, err)
	}
	slices.SortFunc(out, func(a, b TokenInfo) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// Revoke deletes a property's token, named by its id (as List shows it) or
// by the token itself, and records the revocation. A token of another
// property is ErrTokenNotFound.
func (t *Tokens) Revoke(ctx context.Context, p audit.Platform, property, idOrToken string, by Admin) (TokenInfo, error) {
	var prefix []byte
	if WellFormedToken(idOrToken) {
		prefix = tokenHash(idOrToken)
	} else if b, err := hex.DecodeString(strings.ToLower(idOrToken)); err == nil && len(b) == 8 {
		prefix = b
	} else {
		return TokenInfo{}, fmt.Errorf("revoke API token: %w", ErrTokenNotFound)
	}
	var key []byte
	var info TokenInfo
	err := t.kv.ScanKV(TokenNamespace, prefix, func(k, v []byte) error {
		i, err := decodeToken(k, v)
		if err != nil {
			return err
		}
		if i.Platform == p && i.Property == property && len(k) == sha256.Size {
			key, info = slices.Clone(k), i
		}
		return nil
	})
	if err != nil {
		return TokenInfo{}, fmt.Errorf("revoke API token: %w", err)
	}
	if key == nil {
		return TokenInfo{}, fmt.Errorf("revoke API token: %w", ErrTokenNotFound)
	}
	if err := t.kv.DeleteKV(TokenNamespace, key); err != nil {
		return TokenInfo{}, fmt.Errorf("revoke API token: %w", err)
	}
	if err := t.rec.Record(ctx, t.change(p, property, by, info.ID, info.ID, "revoked")); err != nil {
		return info, fmt.Errorf("revoke API token %s: revoked, but recording it failed: %w", info.ID, err)
	}
	return info, nil
}
