package discord_test

import (
	"testing"

	"github.com/bwmarrin/discordgo"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/store"
)

// Who gave this role Administrator: roles created, edited and deleted,
// each with the moderator, the reason, before and after.
func TestRoleSources(t *testing.T) {
	h, err := startWith(t, discordtestOptions(), logged())
	if err != nil {
		t.Fatal(err)
	}
	roles := func(n int) *audit.Event {
		t.Helper()
		return h.wait(store.Query{Types: []audit.EventType{audit.RoleCreate, audit.RoleUpdate, audit.RoleDelete}}, n)[0]
	}
	modActor := "mod (" + mod.ID + ") · admin"
	id := h.fake.CreateRoleBy(guildID, mod.ID, discordgo.Role{Name: "helpers", Color: 0x3498DB, Hoist: true,
		Permissions: discordgo.PermissionSendMessages | discordgo.PermissionManageMessages}, "new team")
	h.verify(roles(1), check{typ: audit.RoleCreate, platformType: "GUILD_ROLE_CREATE", actor: mod.ID, actorType: audit.ActorAdmin,
		params: map[string]string{audit.ParamName: "helpers", audit.ParamObjectID: id, "new_color": "#3498DB", "new_hoist": "true",
			audit.ParamPermissionsAdded: "SEND_MESSAGES,MANAGE_MESSAGES", audit.ParamDangerousGranted: "", audit.ParamReason: "new team"},
		summary: "mod created the role helpers.",
		fields:  map[string]string{"Actor": modActor, "Name": "helpers", "Permissions added": "SEND_MESSAGES,MANAGE_MESSAGES", "Reason": "new team"}})

	h.fake.UpdateRoleBy(guildID, owner.ID, id, "trust them", func(r *discordgo.Role) {
		r.Permissions = r.Permissions&^discordgo.PermissionManageMessages | discordgo.PermissionAdministrator
		r.Name = "admins"
	})
	h.verify(roles(2), check{typ: audit.RoleUpdate, platformType: "GUILD_ROLE_UPDATE", actor: owner.ID, actorType: audit.ActorAdmin,
		params: map[string]string{audit.ParamName: "admins", "old_name": "helpers", "new_name": "admins", audit.ParamChanged: "name,permissions",
			"old_permissions": "10240", "new_permissions": "2056",
			audit.ParamPermissionsAdded: "ADMINISTRATOR", audit.ParamPermissionsRemoved: "MANAGE_MESSAGES",
			audit.ParamDangerousGranted: "ADMINISTRATOR", audit.ParamReason: "trust them"},
		summary: "owner updated the role admins.",
		fields: map[string]string{"Dangerous permissions granted": "ADMINISTRATOR", "Permissions added": "ADMINISTRATOR",
			"Permissions removed": "MANAGE_MESSAGES", "Old value (name)": "helpers", "New value (name)": "admins"}})

	// Moving a role shifts the others: a position alone is no record.
	h.fake.UpdateRoleBy(guildID, owner.ID, modRole, "", func(r *discordgo.Role) { r.Position = 7 })
	h.fake.DeleteRoleBy(guildID, mod.ID, id, "too much power")
	h.verify(roles(3), check{typ: audit.RoleDelete, platformType: "GUILD_ROLE_DELETE", actor: mod.ID, actorType: audit.ActorAdmin,
		params: map[string]string{audit.ParamName: "admins", "old_permissions": "2056", audit.ParamPermissionsRemoved: "ADMINISTRATOR,SEND_MESSAGES",
			audit.ParamReason: "too much power"},
		summary: "mod deleted the role admins.", fields: map[string]string{"Permissions removed": "ADMINISTRATOR,SEND_MESSAGES"}})
	if n := len(h.wait(store.Query{Types: []audit.EventType{audit.RoleUpdate}}, 1)); n != 1 {
		t.Fatalf("%d ROLE_UPDATE records, want 1 (a position-only move is not recorded)", n)
	}

	// "Who changed permissions": the permissions preset finds them.
	types, _ := audit.Preset("permissions")
	if n := len(h.wait(store.Query{Types: types}, 3)); n != 3 {
		t.Fatalf("the permissions preset finds %d records, want 3", n)
	}
}
