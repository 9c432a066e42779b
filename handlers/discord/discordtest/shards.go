package discordtest

import (
	"encoding/json"
	"strconv"
)

// Sharding as Discord documents it: a session that identified with
// shard [shard_id, num_shards] receives only the guilds, and the events
// of the guilds, for which (guild_id >> 22) % num_shards == shard_id;
// events of no guild (direct messages) go to shard 0 only. An identify
// without a shard, or with num_shards 1, receives everything. A shard
// outside 0..num_shards-1 is closed with 4010 (Invalid shard).

// validShard reports whether an identify's shard is one Discord accepts.
func validShard(sh *[2]int) bool {
	return sh == nil || (sh[1] >= 1 && sh[0] >= 0 && sh[0] < sh[1])
}

// owns reports whether a session receives the events of a guild ("" for
// events outside any guild).
func (sess *session) owns(guild string) bool {
	if sess.shards <= 1 {
		return true
	}
	if guild == "" {
		return sess.shard == 0
	}
	id, err := strconv.ParseUint(guild, 10, 64)
	if err != nil {
		return sess.shard == 0
	}
	return int((id>>22)%uint64(sess.shards)) == sess.shard
}

// eventGuild returns the guild of a dispatch's payload: its guild_id, or
// the id of the guild itself for GUILD_CREATE, GUILD_UPDATE and
// GUILD_DELETE; "" when it has none.
func eventGuild(name string, raw json.RawMessage) string {
	var p struct {
		ID      string `json:"id"`
		GuildID string `json:"guild_id"`
	}
	json.Unmarshal(raw, &p)
	switch name {
	case "GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE":
		return p.ID
	}
	return p.GuildID
}
