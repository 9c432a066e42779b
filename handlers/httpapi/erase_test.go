package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/recorder"
)

// post sends a POST without a body and checks the answer against the
// OpenAPI document.
func (e *env) post(path, token string) *response {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.ts.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	if err := e.spec.checkResponse("POST", path, resp.StatusCode, resp.Header.Get("Content-Type"), body); err != nil {
		e.t.Errorf("OpenAPI: %v\nbody: %.500s", err, body)
	}
	return &response{resp, body}
}

const (
	erasedUser = "424242424242"
	erasedText = "marmalade-compass-private"
	erasedName = "Vantongeren-Kowalczyk"
)

// seedErasable records n messages of erasedUser and n of someone else in
// propA, and returns how many records name erasedUser.
func seedErasable(e *env, n int) int {
	var evs []*audit.Event
	for i := range n {
		evs = append(evs,
			ev(i, audit.ChatMessage, func(x *audit.Event) {
				x.ActorID, x.ActorName, x.Content = erasedUser, erasedName, fmt.Sprintf("%s %d", erasedText, i)
			}),
			ev(i, audit.ChatMessage, func(x *audit.Event) { x.ActorID, x.Content = "515151", "kept chatter" }))
	}
	e.record(evs...)
	return n
}

// TestEraseEndpoint: only the operator token erases; a community's token
// gets 403 and a missing one 401, and bad paths 400; the operator's
// request erases the member's personal data down to the file's bytes,
// answers with the count, and the erasure is recorded with the operator
// as actor and the member as target.
func TestEraseEndpoint(t *testing.T) {
	e := newEnv(t)
	want := seedErasable(e, 300)
	path := "/v1/properties/" + pathA + "/members/" + erasedUser + ":erase"

	for _, c := range []struct {
		name, path, token string
		code              int
		status, param     string
	}{
		{"no token", path, "", 401, "UNAUTHENTICATED", ""},
		{"the community's own token", path, e.tokA, 403, "PERMISSION_DENIED", ""},
		{"another community's token", path, e.tokB, 403, "PERMISSION_DENIED", ""},
		{"all properties", "/v1/properties/all/members/" + erasedUser + ":erase", testOperator, 400, "INVALID_ARGUMENT", "property"},
		{"not a user id", "/v1/properties/" + pathA + "/members/bob:erase", testOperator, 400, "INVALID_ARGUMENT", "user"},
		{"a user id with a leading zero", "/v1/properties/" + pathA + "/members/0" + erasedUser + ":erase", testOperator, 400, "INVALID_ARGUMENT", "user"},
	} {
		r := e.post(c.path, c.token)
		if r.StatusCode != c.code {
			t.Errorf("%s: %d %s, want %d", c.name, r.StatusCode, r.body, c.code)
			continue
		}
		if er := r.errorOf(); er.Status != c.status || er.Parameter != c.param {
			t.Errorf("%s: %+v, want status %s parameter %q", c.name, er, c.status, c.param)
		}
	}
	if b, err := os.ReadFile(e.store.Path()); err != nil || !bytes.Contains(b, []byte(erasedText)) {
		t.Fatalf("the refused requests erased something, or the file has no text to erase (%v)", err)
	}
	// Requests a community's token may not make are counted as failures.
	if m := e.get("/metrics", "").String(); !strings.Contains(m, `chatwarden_api_auth_failures_total{reason="OPERATOR_ONLY",surface="api"} 1`) {
		t.Error("the community token's erasure request was not counted as an OPERATOR_ONLY failure")
	}

	r := e.post(path, testOperator)
	if r.StatusCode != 200 {
		t.Fatalf("operator: %d %s", r.StatusCode, r.body)
	}
	var got Erasure
	r.json(&got)
	if got.Erased != want || got.User != erasedUser || got.Property != pathA {
		t.Errorf("answer %+v, want %d records of %s in %s", got, want, erasedUser, pathA)
	}
	b, err := os.ReadFile(e.store.Path())
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte(erasedText)) + bytes.Count(b, []byte(erasedName)); n != 0 {
		t.Errorf("after the erasure the database file holds %d copies of the member's text or name", n)
	}
	if n := bytes.Count(b, []byte("kept chatter")); n < want {
		t.Errorf("the file holds %d of the %d messages of others", n, want)
	}
	a := e.list(pathA, e.tokA, url.Values{"eventName": {"DATA_RETENTION"}})
	if len(a.Items) != 1 {
		t.Fatalf("%d DATA_RETENTION records, want 1: %+v", len(a.Items), a.Items)
	}
	rec := a.Items[0]
	params := map[string]string{}
	for _, p := range rec.Events[0].Parameters {
		params[p.Name] = p.Value
	}
	if rec.Actor.ID != "operator" || rec.Actor.Type != "SYSTEM" || len(rec.TargetIDs) != 1 || rec.TargetIDs[0] != erasedUser ||
		params[audit.ParamAction] != audit.RetentionErase || params[audit.ParamCount] != fmt.Sprint(want) || rec.PlatformType != "api" {
		t.Errorf("the erasure's record: %+v (params %v)", rec, params)
	}
	v, err := e.store.Verify(context.Background(), audit.Discord, propA)
	if err != nil || !v.OK {
		t.Errorf("verify after the erasure: %+v, %v", v, err)
	}
}

// TestEraseEndpointOnQueryNode: a query node's records are the shards';
// it refuses to erase and says where to.
func TestEraseEndpointOnQueryNode(t *testing.T) {
	e := newEnv(t)
	if _, err := e.store.AppendReplica(context.Background(), &recorder.ReplicaBatch{}); err != nil {
		t.Fatal(err)
	}
	r := e.post("/v1/properties/"+pathA+"/members/"+erasedUser+":erase", testOperator)
	if r.StatusCode != http.StatusConflict {
		t.Fatalf("%d %s, want 409", r.StatusCode, r.body)
	}
	if er := r.errorOf(); er.Status != "FAILED_PRECONDITION" || !bytes.Contains([]byte(er.Message), []byte("shard")) {
		t.Errorf("%+v", er)
	}
}
