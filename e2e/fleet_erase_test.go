package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/chatwarden/chatwarden/audit"
	"github.com/chatwarden/chatwarden/cluster/clustertest"
	"github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/internal/testlog"
	"github.com/chatwarden/chatwarden/store"
)

// The erased member's personal data, in no other record.
const (
	erasedText = "obsidian-marigold-confidential"
	erasedName = "Wojciechowska-Abernathy"
)

// TestFleetErasureOnline is the fleet's erasure end to end, through the
// processes as operators run them: a shard (`chatwarden run`, a fake
// Discord guild) and a query node (`chatwarden api`) over a NATS server.
// A member's messages reach the query node; the operator erases the
// member on the running shard (POST …/members/{user}:erase); then the
// query node's export holds none of the member's text or name and shows
// the erasure, and once both processes stopped, neither database file,
// nor any file of the NATS server, holds a byte of it. A query node
// started afterwards reads the whole stream and ends the same, its chain
// verifying.
func TestFleetErasureOnline(t *testing.T) {
	if os.Getenv("CHATWARDEN_FLEET_CHILD") != "" {
		t.Skip("child")
	}
	if testing.Short() {
		t.Skip("fleet test in -short mode")
	}
	dir := t.TempDir()
	natsDir := filepath.Join(dir, "nats")
	ns := clustertest.StartNATS(t, 0, natsDir)

	d := discordtest.New(discordtest.Options{})
	t.Cleanup(d.Close)
	guild, channel := d.Snowflake(), d.Snowflake()
	owner := &discordtest.User{ID: d.Snowflake(), Username: "owner", GlobalName: "Owner"}
	erased := &discordtest.User{ID: d.Snowflake(), Username: "wojo", GlobalName: erasedName}
	other := &discordtest.User{ID: d.Snowflake(), Username: "kept", GlobalName: "Kept Member"}
	d.AddGuild(&discordtest.Guild{ID: guild, Name: "Erasure guild", OwnerID: owner.ID,
		Roles:    []*discordtest.Role{{ID: guild, Name: "@everyone"}},
		Channels: []*discordtest.Channel{{ID: channel, GuildID: guild, Name: "general", Type: discordtest.ChannelTypeGuildText}},
		Members:  []*discordtest.Member{{User: owner, Roles: []string{}}, {User: erased, Roles: []string{}}, {User: other, Roles: []string{}}}})

	var logs testlog.Buffer
	type proc struct {
		cmd      *exec.Cmd
		base, db string
	}
	newProc := func(name, sub, platform string) *proc {
		addr := freeAddr(t)
		p := &proc{base: "http://" + addr, db: filepath.Join(dir, name+".db")}
		cfg := filepath.Join(dir, name+".yaml")
		text := fmt.Sprintf("log_level: warn\nstorage: {path: %s}\napi: {listen: %s, operator_token: %s}\ncluster: {nats_url: %q}\n%s",
			p.db, addr, fleetOperator, ns.ClientURL(), platform)
		if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		p.cmd = exec.Command(os.Args[0], "-test.run=^TestFleetChild$")
		p.cmd.Env = append(os.Environ(), "CHATWARDEN_FLEET_CHILD="+sub+" "+cfg)
		p.cmd.Stdout, p.cmd.Stderr = &logs, &logs
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if p.cmd.ProcessState == nil {
				p.cmd.Process.Kill()
				p.cmd.Wait()
			}
		})
		waitUntil(t, name+" ready", func() bool { return ready(p.base) })
		return p
	}
	stop := func(p *proc) {
		p.cmd.Process.Signal(syscall.SIGTERM)
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("%s did not stop cleanly: %v\n%s", p.db, err, logs.String())
		}
	}
	shard := newProc("shard", "run", fmt.Sprintf("discord: {enabled: true, token: test-token, api_url: %s}\n", d.APIURL()))
	query := newProc("query", "api", "")

	for i := range 40 {
		d.Say(guild, channel, erased, fmt.Sprintf("%s %d", erasedText, i))
		d.Say(guild, channel, other, fmt.Sprintf("kept words %d", i))
	}
	messages := func(base string) (erasedN, keptN int, erasures []audit.Event) {
		for _, e := range exportAll(t, base) {
			switch {
			case e.Type == audit.DataRetention:
				erasures = append(erasures, e)
			case e.Type != audit.ChatMessage:
			case e.ActorID == erased.ID && strings.Contains(e.Content, erasedText):
				erasedN++
			case e.ActorID == other.ID:
				keptN++
			}
		}
		return
	}
	waitUntil(t, "the messages on the query node", func() bool {
		n, k, _ := messages(query.base)
		return n == 40 && k == 40 && ready(query.base)
	})

	// The query node refuses: its records are the shards'.
	if code, body := post(t, query.base+"/v1/properties/discord:"+guild+"/members/"+erased.ID+":erase"); code != http.StatusConflict {
		t.Fatalf("erase on the query node: %d %s, want 409", code, body)
	}
	code, body := post(t, shard.base+"/v1/properties/discord:"+guild+"/members/"+erased.ID+":erase")
	if code != http.StatusOK {
		t.Fatalf("erase on the shard: %d %s", code, body)
	}
	var answer struct{ Erased int }
	if err := json.Unmarshal(body, &answer); err != nil || answer.Erased < 40 {
		t.Fatalf("erase on the shard answered %s (%v), want at least the 40 messages", body, err)
	}
	waitUntil(t, "the erasure on the query node", func() bool {
		n, k, er := messages(query.base)
		return n == 0 && k == 40 && len(er) == 1
	})
	if _, _, er := messages(query.base); er[0].ActorID != "operator" || len(er[0].TargetIDs) != 1 || er[0].TargetIDs[0] != erased.ID {
		t.Errorf("the erasure's record on the query node: %+v", er[0])
	}
	waitUntil(t, "the erased messages gone from the NATS server's files", func() bool {
		return filesContain(t, natsDir, erasedText, erasedName) == 0
	})

	// A query node started now reads the whole stream.
	fresh := newProc("fresh", "api", "")
	waitUntil(t, "the new query node caught up", func() bool {
		_, k, er := messages(fresh.base)
		return k == 40 && len(er) == 1 && ready(fresh.base)
	})
	for _, p := range []*proc{shard, query, fresh} {
		stop(p)
	}
	for _, p := range []*proc{shard, query, fresh} {
		if n := filesContain(t, p.db, erasedText, erasedName); n != 0 {
			t.Errorf("%s holds %d copies of the erased member's text or name", filepath.Base(p.db), n)
		}
	}
	if n := filesContain(t, natsDir, erasedText, erasedName); n != 0 {
		t.Errorf("the NATS server's files hold %d copies of the erased member's text or name", n)
	}
	s, err := store.Open(fresh.db, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.Verify(context.Background(), audit.Discord, guild)
	if err != nil || !v.OK {
		t.Errorf("the new query node's chain: %+v, %v", v, err)
	}
}

// post sends an operator's POST without a body.
func post(t *testing.T, url string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, nil)
	req.Header.Set("Authorization", "Bearer "+fleetOperator)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// filesContain counts the needles in the bytes of a file, or of every
// file under a directory.
func filesContain(t *testing.T, path string, needles ...string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // a running server's temporary file, gone meanwhile
		}
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, s := range needles {
			n += bytes.Count(b, []byte(s))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
