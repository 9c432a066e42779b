package discordtest

import (
	"sync"

	"github.com/bwmarrin/discordgo"
)

// AutomodBlock reports what AutoMod does to a member's message that a
// keyword rule matched: one AUTO_MODERATION_ACTION_EXECUTION per action of
// the rule (here: block the message, then alert a channel).
func (s *Server) AutomodBlock(guild, channel, user, ruleID, keyword, content, matched string) {
	for _, action := range []map[string]any{
		{"type": 1, "metadata": map[string]any{"custom_message": "Please keep it civil."}},
		{"type": 2, "metadata": map[string]any{"channel_id": channel}},
	} {
		s.Dispatch("AUTO_MODERATION_ACTION_EXECUTION", map[string]any{"guild_id": guild, "action": action, "rule_id": ruleID,
			"rule_trigger_type": 1, "user_id": user, "channel_id": channel, "content": content,
			"matched_keyword": keyword, "matched_content": matched})
	}
}

// CreateAutomodRuleBy creates a keyword rule as a moderator does:
// AUTO_MODERATION_RULE_CREATE with the rule, then the
// AUTO_MODERATION_RULE_CREATE entry. It returns the rule's id.
func (s *Server) CreateAutomodRuleBy(guild, moderator, name string, keywords []string) string {
	id := s.Snowflake()
	enabled := true
	rule := map[string]any{"id": id, "guild_id": guild, "name": name, "creator_id": moderator, "event_type": 1,
		"trigger_type": 1, "trigger_metadata": map[string]any{"keyword_filter": keywords},
		"actions": []map[string]any{{"type": 1}}, "enabled": enabled, "exempt_roles": []string{}, "exempt_channels": []string{}}
	x := s.rules()
	x.mu.Lock()
	x.m[guild] = append(x.m[guild], rule)
	x.mu.Unlock()
	s.Dispatch("AUTO_MODERATION_RULE_CREATE", rule)
	s.auditChanges(guild, moderator, discordgo.AuditLogActionAutoModerationRuleCreate, id, "", nil,
		change{key: "name", new: name}, change{key: "trigger_type", new: 1}, change{key: "enabled", new: true})
	return id
}

var automodRules sync.Map // *Server -> *rules

type rules struct {
	mu sync.Mutex
	m  map[string][]map[string]any // guild -> rules as Discord shows them
}

func (s *Server) rules() *rules {
	v, _ := automodRules.LoadOrStore(s, &rules{m: map[string][]map[string]any{}})
	return v.(*rules)
}

// AddAutomodRule adds a rule without an event, as one made before the
// bot connected: only GET /guilds/{id}/auto-moderation/rules shows it.
// It returns the rule's id.
func (s *Server) AddAutomodRule(guild, name string) string {
	id := s.Snowflake()
	x := s.rules()
	x.mu.Lock()
	x.m[guild] = append(x.m[guild], map[string]any{"id": id, "guild_id": guild, "name": name, "creator_id": "0",
		"event_type": 1, "trigger_type": 1, "trigger_metadata": map[string]any{}, "actions": []map[string]any{{"type": 1}},
		"enabled": true, "exempt_roles": []string{}, "exempt_channels": []string{}})
	x.mu.Unlock()
	return id
}

// automodRulesOf answers GET /guilds/{id}/auto-moderation/rules.
func (s *Server) automodRulesOf(guild string) []map[string]any {
	x := s.rules()
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]map[string]any{}, x.m[guild]...)
}
