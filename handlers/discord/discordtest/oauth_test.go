package discordtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestOAuthCodeGrant: the code grant as documented: form-encoded token
// requests only, client credentials checked, a code used once and for its
// redirect URI, and the Bearer token reading the user and their guilds
// with their permissions.
func TestOAuthCodeGrant(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	owner := &User{ID: "10", Username: "owner"}
	mod := &User{ID: "11", Username: "mod", GlobalName: "The Mod"}
	s.AddGuild(&Guild{ID: "100", Name: "G", OwnerID: owner.ID,
		Roles:   []*Role{{ID: "100", Name: "@everyone"}, {ID: "101", Name: "Mods", Permissions: PermissionViewAuditLogs}},
		Members: []*Member{{User: owner}, {User: mod, Roles: []string{"101"}}}})
	s.AddGuild(&Guild{ID: "200", Name: "Other", OwnerID: owner.ID, Roles: []*Role{{ID: "200", Name: "@everyone"}},
		Members: []*Member{{User: owner}}})
	const redirect = "https://viewer.example/login/discord/callback"
	s.OAuthApp("app", "sekret", redirect)
	if code := s.Authorize(mod, "app", "https://evil.example/"); code != "" {
		t.Error("a code for an unregistered redirect URI")
	}
	token := func(form url.Values, basic bool, contentType string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("POST", s.APIURL()+"/oauth2/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", contentType)
		if basic {
			req.SetBasicAuth("app", "sekret")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	form := func(code string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
	}
	code := s.Authorize(mod, "app", redirect, "identify", "guilds")
	if st, out := token(form(code), true, "application/json"); st != 400 || out["error"] != "invalid_request" {
		t.Errorf("JSON body: %d %v", st, out)
	}
	bad := form(code)
	bad.Set("client_id", "app")
	bad.Set("client_secret", "wrong")
	if st, out := token(bad, false, "application/x-www-form-urlencoded"); st != 401 || out["error"] != "invalid_client" {
		t.Errorf("wrong secret: %d %v", st, out)
	}
	st, out := token(form(code), true, "application/x-www-form-urlencoded")
	if st != 200 || out["token_type"] != "Bearer" || out["access_token"] == "" || out["scope"] != "identify guilds" {
		t.Fatalf("exchange: %d %v", st, out)
	}
	if st, out := token(form(code), true, "application/x-www-form-urlencoded"); st != 400 || out["error"] != "invalid_grant" {
		t.Errorf("the code used again: %d %v", st, out)
	}
	get := func(path, auth string, v any) int {
		req, _ := http.NewRequest("GET", s.APIURL()+path, nil)
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		json.NewDecoder(resp.Body).Decode(v)
		return resp.StatusCode
	}
	bearer := "Bearer " + out["access_token"].(string)
	var me map[string]any
	if st := get("/users/@me", bearer, &me); st != 200 || me["id"] != "11" || me["global_name"] != "The Mod" {
		t.Errorf("users/@me: %d %v", st, me)
	}
	var guilds []map[string]any
	if st := get("/users/@me/guilds", bearer, &guilds); st != 200 || len(guilds) != 1 || guilds[0]["id"] != "100" ||
		guilds[0]["permissions"] != "128" || guilds[0]["owner"] != false {
		t.Errorf("users/@me/guilds: %d %v", st, guilds)
	}
	if st := get("/users/@me", "Bearer nope", &me); st != 401 {
		t.Errorf("unknown token: %d", st)
	}
	// Without the guilds scope, no guilds.
	_, out = token(form(s.Authorize(mod, "app", redirect, "identify")), true, "application/x-www-form-urlencoded")
	if st := get("/users/@me/guilds", "Bearer "+out["access_token"].(string), &guilds); st != 401 {
		t.Errorf("guilds without the scope: %d", st)
	}
}
