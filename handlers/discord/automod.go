package discord

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
)

// AutoMod: every AUTO_MODERATION_ACTION_EXECUTION (intent
// AUTO_MODERATION_EXECUTION; Discord sends it only to bots with Manage
// Server) is a MODERATION_AUTOMOD: the action, the rule (its name as last
// seen in AUTO_MODERATION_RULE_* events, intent
// AUTO_MODERATION_CONFIGURATION), the trigger, the keyword that matched,
// and the blocked text as the content (which the property's content
// policy keeps or withholds like any message's). The rules' lifecycle is
// recorded from their audit entries (auditrecords.go).

// ruleNames holds AutoMod rules' names by guild/rule id, and the guilds
// whose rules were read over REST.
type ruleNames struct {
	mu   sync.Mutex
	m    map[string]string
	read map[string]time.Time
}

// ruleReadEvery bounds the REST reads of a guild's rules.
const ruleReadEvery = time.Hour

// shouldRead reports whether a guild's rules may be read now, and notes
// the read.
func (r *ruleNames) shouldRead(guild string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.read == nil {
		r.read = map[string]time.Time{}
	}
	if t, ok := r.read[guild]; ok && now.Sub(t) < ruleReadEvery {
		return false
	}
	r.read[guild] = now
	return true
}

func (r *ruleNames) set(guild, id, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]string{}
	}
	if name == "" {
		delete(r.m, guild+"/"+id)
		return
	}
	if len(r.m) > 1<<14 { // a bound: names come back with the next event
		clear(r.m)
	}
	r.m[guild+"/"+id] = name
}

func (r *ruleNames) get(guild, id string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[guild+"/"+id]
}

func (b *Bot) onAutomodRule(r *discordgo.AutoModerationRule, deleted bool) {
	if r == nil || r.GuildID == "" || r.ID == "" {
		return
	}
	name := r.Name
	if deleted {
		name = ""
	}
	b.rules.set(r.GuildID, r.ID, name)
}

// ruleName is an AutoMod rule's name: as last seen, else read with the
// guild's rules over REST (Manage Server, which AutoMod's actions need
// anyway), at most once an hour per guild; "" when unknown.
func (b *Bot) ruleName(guild, id string) string {
	if id == "" {
		return ""
	}
	if name := b.rules.get(guild, id); name != "" || !b.rules.shouldRead(guild, time.Now()) {
		return name
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	rules, err := b.s.AutoModerationRules(guild, discordgo.WithContext(ctx))
	if err != nil {
		b.log.Warn().Err(fmt.Errorf("read the AutoMod rules of %s: %w", guild, err)).Str("guild", guild).
			Msg("AutoMod action recorded with the rule's id only")
		return ""
	}
	for _, r := range rules {
		if r != nil && r.ID != "" {
			b.rules.set(guild, r.ID, r.Name)
		}
	}
	return b.rules.get(guild, id)
}

// automodActions and automodTriggers name Discord's AutoMod enums.
var (
	automodActions = map[discordgo.AutoModerationActionType]string{1: audit.AutomodBlock, 2: audit.AutomodAlert,
		3: audit.AutomodTimeout, 4: audit.AutomodBlockInteraction}
	automodTriggers = map[discordgo.AutoModerationRuleTriggerType]string{1: "KEYWORD", 3: "SPAM", 4: "KEYWORD_PRESET",
		5: "MENTION_SPAM", 6: "MEMBER_PROFILE"}
)

func (b *Bot) onAutomodExecution(x *discordgo.AutoModerationActionExecution) {
	if x == nil || x.GuildID == "" {
		return
	}
	e := b.event(x.GuildID, audit.ModerationAutomod, "AUTO_MODERATION_ACTION_EXECUTION")
	e.ActorName = "AutoMod"
	e.ChannelID, e.MessageID = x.ChannelID, x.MessageID
	if x.UserID != "" {
		b.nameTarget(e, x.GuildID, x.UserID)
	}
	action, ok := automodActions[x.Action.Type]
	if !ok {
		action = "ACTION_" + strconv.Itoa(int(x.Action.Type))
	}
	e.Params.Set(audit.ParamAction, action)
	trigger, ok := automodTriggers[x.RuleTriggerType]
	if !ok {
		trigger = "TRIGGER_" + strconv.Itoa(int(x.RuleTriggerType))
	}
	e.Params.Set(audit.ParamTrigger, trigger)
	e.Params.Set(audit.ParamRuleID, x.RuleID)
	e.Params.Set(audit.ParamRule, b.ruleName(x.GuildID, x.RuleID))
	e.Params.Set(audit.ParamMatchedKeyword, x.MatchedKeyword)
	if m := x.Action.Metadata; m != nil && m.Duration > 0 {
		e.Params.Set(audit.ParamDuration, (time.Duration(m.Duration) * time.Second).String())
	}
	e.Content = x.Content
	b.submit(e)
}
