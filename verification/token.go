package verification

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/chatwarden/chatwarden/audit"
)

// Button data:
//
//	start:  "v" platform 's' base64url(mac[:12])                      19 bytes
//	answer: "v" platform 'a' base64url(id[8] round[1] choice[1] mac[:12]) 33 bytes
//
// platform is '1' (Discord) or '2' (Telegram). The start MAC binds the
// platform and property (anyone there may press Verify); the answer MAC
// binds the platform, property, member, challenge id, round and choice.
const (
	opStart  = 's'
	opAnswer = 'a'
	macLen   = 12
)

// MaxDataLen is the longest button data the engine makes (Telegram allows
// 64 bytes).
const MaxDataLen = 64

var b64 = base64.RawURLEncoding

// ErrBadData is returned for button data the engine did not make.
var ErrBadData = errors.New("not a verification button")

// signer makes and checks button data.
type signer struct{ key []byte }

func (s signer) mac(parts ...[]byte) []byte {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(p)))
		m.Write(n[:])
		m.Write(p)
	}
	return m.Sum(nil)[:macLen]
}

func platformByte(p audit.Platform) byte { return '0' + byte(p) }

func (s signer) startMAC(p audit.Platform, property string) []byte {
	return s.mac([]byte{opStart, platformByte(p)}, []byte(property))
}

func (s signer) answerMAC(p audit.Platform, property, user string, id uint64, round uint8, choice uint8) []byte {
	var b [10]byte
	binary.BigEndian.PutUint64(b[:8], id)
	b[8], b[9] = round, choice
	return s.mac([]byte{opAnswer, platformByte(p)}, []byte(property), []byte(user), b[:])
}

// startData is the data of a property's Verify button.
func (s signer) startData(p audit.Platform, property string) string {
	return string([]byte{'v', platformByte(p), opStart}) + b64.EncodeToString(s.startMAC(p, property))
}

// answerData is the data of one answer button.
func (s signer) answerData(c *Challenge, choice int) string {
	var b [10 + macLen]byte
	binary.BigEndian.PutUint64(b[:8], c.ID)
	b[8], b[9] = c.Round, uint8(choice)
	copy(b[10:], s.answerMAC(c.Platform, c.Property, c.User, c.ID, c.Round, uint8(choice)))
	return string([]byte{'v', platformByte(c.Platform), opAnswer}) + b64.EncodeToString(b[:])
}

// press is parsed button data; its MAC is checked against a presser by
// valid.
type press struct {
	op       byte
	platform audit.Platform
	id       uint64
	round    uint8
	choice   uint8
	mac      []byte
}

func parseData(data string) (press, error) {
	var p press
	if len(data) < 4 || len(data) > MaxDataLen || data[0] != 'v' {
		return p, ErrBadData
	}
	p.platform, p.op = audit.Platform(data[1]-'0'), data[2]
	if !p.platform.Valid() {
		return p, ErrBadData
	}
	raw, err := b64.DecodeString(data[3:])
	if err != nil {
		return p, fmt.Errorf("%w: %v", ErrBadData, err)
	}
	switch {
	case p.op == opStart && len(raw) == macLen:
		p.mac = raw
	case p.op == opAnswer && len(raw) == 10+macLen:
		p.id = binary.BigEndian.Uint64(raw[:8])
		p.round, p.choice, p.mac = raw[8], raw[9], raw[10:]
	default:
		return p, ErrBadData
	}
	return p, nil
}

// valid reports whether the press was made for this property and presser.
func (s signer) valid(p press, property, user string) bool {
	var want []byte
	if p.op == opStart {
		want = s.startMAC(p.platform, property)
	} else {
		want = s.answerMAC(p.platform, property, user, p.id, p.round, p.choice)
	}
	return hmac.Equal(want, p.mac)
}

// IsButton reports whether button data belongs to verification, so that a
// platform adapter can route the press to OnPress.
func IsButton(data string) bool {
	return len(data) > 3 && len(data) <= MaxDataLen && data[0] == 'v' &&
		(data[1] == '1' || data[1] == '2') && (data[2] == opStart || data[2] == opAnswer)
}
