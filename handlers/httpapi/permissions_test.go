package httpapi

import (
	"net/url"
	"testing"

	"github.com/chatwarden/chatwarden/audit"
)

// Who gave a role Administrator, through the HTTP API: the permissions
// preset and the dangerous_granted flag find the one grant, with its
// before and after.
func TestPermissionsPresetFindsTheGrant(t *testing.T) {
	e := newEnv(t)
	grant := ev(1, audit.RoleUpdate, withParams(audit.ParamName, "helpers", audit.ParamDangerousGranted, "ADMINISTRATOR",
		audit.ParamPermissionsAdded, "ADMINISTRATOR", "old_permissions", "2048", "new_permissions", "2056"))
	e.record(
		ev(0, audit.ChatMessage),
		grant,
		ev(2, audit.RoleUpdate, withParams(audit.ParamName, "helpers", "old_color", "", "new_color", "#3498DB")),
		ev(3, audit.ChannelPermissionUpdate, withParams(audit.ParamDenyAdded, "SEND_MESSAGES")),
		ev(4, audit.UserUpdate),
	)
	all := e.list(pathA, e.tokA, url.Values{"eventType": {"permissions"}})
	if len(all.Items) != 3 {
		t.Fatalf("eventType=permissions: %d records, want the 2 role updates and the overwrite", len(all.Items))
	}
	got := e.list(pathA, e.tokA, url.Values{"eventType": {"permissions"}, "filters": {"dangerous_granted<>"}})
	if len(got.Items) != 1 || got.Items[0].EventType != "ROLE_UPDATE" {
		t.Fatalf("the grant: %+v", got.Items)
	}
	params := map[string]string{}
	for _, p := range got.Items[0].Events[0].Parameters {
		params[p.Name] = p.Value
	}
	if params["old_permissions"] != "2048" || params["new_permissions"] != "2056" || params[audit.ParamPermissionsAdded] != "ADMINISTRATOR" {
		t.Fatalf("the grant's before and after: %v", params)
	}
}
