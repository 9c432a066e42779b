package telegramtest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// ---------------------------------------------------------------------------
// Bot commands

type commandKey struct {
	scope BotCommandScope
	lang  string
}

var (
	reCommandName = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)
	reLangCode    = regexp.MustCompile(`^[a-z]{2}$`)
	reSecretToken = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
)

func (s *Server) commandKeyLocked(r *request) (string, commandKey, *apiError) {
	k := commandKey{scope: BotCommandScope{Type: "default"}, lang: r.str("language_code")}
	if k.lang != "" && !reLangCode.MatchString(k.lang) {
		return "", k, badRequest("invalid language code specified")
	}
	if raw := strings.TrimSpace(r.str("scope")); raw != "" && raw != "null" {
		var in struct {
			Type   string          `json:"type"`
			ChatID json.RawMessage `json:"chat_id"`
			UserID int64           `json:"user_id"`
		}
		if err := decodeJSON(raw, &in); err != nil {
			return "", k, badRequest("can't parse BotCommandScope JSON object")
		}
		k.scope.Type = in.Type
		switch in.Type {
		case "default", "all_private_chats", "all_group_chats", "all_chat_administrators":
		case "chat", "chat_administrators", "chat_member":
			if len(in.ChatID) == 0 || string(in.ChatID) == "null" {
				return "", k, badRequest("chat_id is empty")
			}
			c, e := s.resolveChatLocked(strings.Trim(string(in.ChatID), `"`))
			if e != nil {
				return "", k, e
			}
			k.scope.ChatID = c.chat.ID
			if in.Type == "chat_member" {
				if _, ok := s.users[in.UserID]; !ok || in.UserID <= 0 {
					return "", k, badRequest("invalid user_id specified")
				}
				k.scope.UserID = in.UserID
			}
		default:
			return "", k, badRequest("unsupported bot command scope type \"%s\"", in.Type)
		}
	}
	return fmt.Sprintf("%s|%d|%d|%s", k.scope.Type, k.scope.ChatID, k.scope.UserID, k.lang), k, nil
}

func (s *Server) mSetMyCommands(r *request) (any, *apiError) {
	key, k, e := s.commandKeyLocked(r)
	if e != nil {
		return nil, e
	}
	var cmds []BotCommand
	if raw := strings.TrimSpace(r.str("commands")); raw != "" && raw != "null" {
		if err := decodeJSON(raw, &cmds); err != nil {
			return nil, badRequest("can't parse commands JSON object")
		}
	}
	if len(cmds) > 100 {
		return nil, badRequest("too many commands specified")
	}
	for _, c := range cmds {
		if !reCommandName.MatchString(c.Command) {
			return nil, badRequest("BOT_COMMAND_INVALID")
		}
		if n := UTF16Len(c.Description); n < 1 || n > 256 {
			return nil, badRequest("BOT_COMMAND_DESCRIPTION_INVALID")
		}
	}
	if len(cmds) == 0 {
		delete(s.commands, key)
		delete(s.scopes, key)
		return true, nil
	}
	s.commands[key] = cmds
	s.scopes[key] = k
	s.notifyLocked()
	return true, nil
}

func (s *Server) mGetMyCommands(r *request) (any, *apiError) {
	key, _, e := s.commandKeyLocked(r)
	if e != nil {
		return nil, e
	}
	out := append([]BotCommand{}, s.commands[key]...)
	return out, nil
}

func (s *Server) mDeleteMyCommands(r *request) (any, *apiError) {
	key, _, e := s.commandKeyLocked(r)
	if e != nil {
		return nil, e
	}
	delete(s.commands, key)
	delete(s.scopes, key)
	s.notifyLocked()
	return true, nil
}

// Commands returns the commands stored for scope and language code (""
// for all languages). ChatID in scope must be numeric.
func (s *Server) Commands(scope BotCommandScope, languageCode string) []BotCommand {
	s.mu.Lock()
	defer s.mu.Unlock()
	if scope.Type == "" {
		scope.Type = "default"
	}
	key := fmt.Sprintf("%s|%d|%d|%s", scope.Type, scope.ChatID, scope.UserID, languageCode)
	return append([]BotCommand(nil), s.commands[key]...)
}

// CommandSet is the command list stored for one scope and language code.
type CommandSet struct {
	Scope        BotCommandScope
	LanguageCode string
	Commands     []BotCommand
}

// CommandSets returns every command list the bot has set, sorted by scope.
func (s *Server) CommandSets() []CommandSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.scopes))
	for k := range s.scopes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]CommandSet, 0, len(keys))
	for _, k := range keys {
		ck := s.scopes[k]
		out = append(out, CommandSet{Scope: ck.scope, LanguageCode: ck.lang,
			Commands: append([]BotCommand(nil), s.commands[k]...)})
	}
	return out
}
