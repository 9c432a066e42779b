package discord_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/handlers/discord/discordtest"
)

// A large guild's GUILD_CREATE lists only the bot (and members in voice):
// the bot asks the gateway for the member list (op 8) and keeps the staff
// it finds there in the state, so that a moderator who never spoke is
// protected from impersonation, and every member's profile in the store.
func TestEnginesLargeGuildStaffFromMemberChunks(t *testing.T) {
	const (
		banRole = "310000000000000021"
		other   = "110000000000000002"
	)
	gen := &discordgo.User{ID: "410000000000000051", Username: "genevieve", GlobalName: "Genevieve"}
	bart := &discordgo.User{ID: "410000000000000052", Username: "bartholomew", GlobalName: "Bartholomew"}
	plain := func(i int) *discordgo.Member {
		return &discordgo.Member{User: &discordgo.User{ID: fmt.Sprintf("4200000000%08d", i), Username: fmt.Sprintf("member%04d", i)},
			Roles: []string{}}
	}
	h := newEngineHarness(t, engineConfig{fake: discordtest.Options{LargeGuilds: true}, setup: func(f *discordtest.Server) {
		// 2,500 members in three chunks; Genevieve (Ban Members only, never
		// spoke) in the second one, Bartholomew (no role) in the third.
		g := engGuildOf()
		g.Roles = append(g.Roles, &discordgo.Role{ID: banRole, Name: "bans", Permissions: discordgo.PermissionBanMembers})
		for i := len(g.Members); i < 2500; i++ {
			switch i {
			case 1500:
				g.Members = append(g.Members, &discordgo.Member{User: gen, Roles: []string{banRole}})
			case 2200:
				g.Members = append(g.Members, &discordgo.Member{User: bart, Roles: []string{}})
			default:
				g.Members = append(g.Members, plain(i))
			}
		}
		f.AddGuild(g)
		// A second large guild: its own request, spaced from the first.
		f.AddGuild(&discordgo.Guild{ID: other, Name: "Other", OwnerID: engOwner.ID,
			Roles:   []*discordgo.Role{{ID: other, Name: "@everyone"}},
			Members: []*discordgo.Member{{User: engOwner, Roles: []string{}}, plain(1), plain(2)}})
	}})
	f := h.fake
	st := h.b.Session().State
	h.poll("the moderator from the member chunks", func() bool {
		_, err := st.Member(engGuild, gen.ID)
		return err == nil
	})
	// Only what the directory needs is kept: the staff, not the 2,500;
	// every member's profile is stored, the last chunk's too.
	if _, err := st.Member(engGuild, bart.ID); err == nil {
		t.Error("the state holds an ordinary member of the chunks")
	}
	h.poll("the profiles of the chunks' members", func() bool {
		return hasProfile(h.s, engGuild, bart.ID) && hasProfile(h.s, engGuild, plain(2499).User.ID)
	})
	g, err := st.Guild(engGuild)
	if err != nil {
		t.Fatal(err)
	}
	st.RLock()
	kept := len(g.Members)
	st.RUnlock()
	if kept > 10 {
		t.Errorf("the state holds %d members of the large guild; want the staff only", kept)
	}

	// Genevieve's look-alike (Cyrillic е) is flagged, naming her.
	fake := &discordgo.User{ID: "410000000000000053", Username: "gen_support", GlobalName: "G\u0435n\u0435vi\u0435v\u0435"}
	f.Join(engGuild, fake)
	sec := h.wait(audit.SecurityEvent, 1)[0]
	if sec.Params[audit.ParamKind] != audit.KindImpersonation || sec.Target() != fake.ID || !slices.Contains(sec.TargetIDs, gen.ID) ||
		!strings.EqualFold(sec.Params[audit.ParamMatchedName], "Genevieve") {
		t.Fatalf("impersonation record %s", describe([]*audit.Event{sec}))
	}
	// An ordinary member's name is not protected.
	f.Join(engGuild, &discordgo.User{ID: "410000000000000054", Username: "bart2", GlobalName: "B\u0430rtholomew"})
	h.wait(audit.UserJoin, 2)
	h.exactly(audit.SecurityEvent, 1)

	// One whole-list request per large guild, with a nonce, spaced.
	h.poll("both member requests", func() bool { return len(f.MemberRequests()) >= 2 })
	reqs := f.MemberRequests()
	byGuild := map[string][]discordtest.MemberRequest{}
	for _, r := range reqs {
		byGuild[r.GuildID] = append(byGuild[r.GuildID], r)
	}
	for _, id := range []string{engGuild, other} {
		rs := byGuild[id]
		if len(rs) != 1 {
			t.Fatalf("%d member requests for %s, want 1: %+v", len(rs), id, reqs)
		}
		if r := rs[0]; r.Query == nil || *r.Query != "" || r.Limit != 0 || r.Nonce == "" || !r.Answered {
			t.Errorf("member request %+v: want query \"\", limit 0, a nonce, answered", r)
		}
	}
	if gap := reqs[1].Time.Sub(reqs[0].Time); gap < 900*time.Millisecond {
		t.Errorf("two member requests %s apart: want them spread", gap)
	}
	if !strings.Contains(h.logs.String(), `"chunks":3`) {
		t.Error("the large guild's list did not come in three chunks")
	}
}
