package e2e

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/chatwarden/chatwarden/cluster"
	"github.com/chatwarden/chatwarden/config"
)

// composeFile is the part of a compose file the fleet example uses.
type composeFile struct {
	Services map[string]struct {
		Image string
		Build *struct {
			Context, Dockerfile string
		}
		Command     []string
		Environment map[string]string
		Configs     []struct{ Source, Target string }
	}
	Configs map[string]struct{ Content string }
}

// TestFleetComposeFile checks deploy/compose.fleet.yaml, the README's
// example fleet: three clustered NATS servers with JetStream; the stream
// and token bucket chatwarden uses, created with three replicas; and
// chatwarden processes built from the Dockerfile whose configs load (no
// unknown key, every value valid, with the environment the compose file
// and the image give them) and agree: one stream, every NATS server,
// Discord shards covering every shard id once, Telegram in every shard
// process (a lease elects the poller; the query node keeps one chain per
// process), the coordination bucket created with three replicas, a query
// node with no platform.
func TestFleetComposeFile(t *testing.T) {
	data, err := os.ReadFile("../deploy/compose.fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(data, &cf); err != nil {
		t.Fatal(err)
	}

	// NATS: three servers routed to each other, JetStream on.
	var natsURLs []string
	for name, svc := range cf.Services {
		if !strings.HasPrefix(svc.Image, "nats:") {
			continue
		}
		cmd := strings.Join(svc.Command, " ")
		for _, want := range []string{"--js", "--cluster_name=chatwarden", "--cluster=nats://0.0.0.0:6222",
			"--routes=nats://nats-1:6222,nats://nats-2:6222,nats://nats-3:6222"} {
			if !strings.Contains(cmd, want) {
				t.Errorf("%s: command %q lacks %s", name, cmd, want)
			}
		}
		natsURLs = append(natsURLs, "nats://"+name+":4222")
	}
	slices.Sort(natsURLs)
	if len(natsURLs) != 3 {
		t.Fatalf("%d NATS servers, want 3", len(natsURLs))
	}

	// The environment the image gives (its ENV lines).
	dockerfile, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	imageEnv := map[string]string{}
	for _, m := range regexp.MustCompile(`(CHATWARDEN_[A-Z_]+)=(\S+)`).FindAllStringSubmatch(string(dockerfile), -1) {
		imageEnv[m[1]] = m[2]
	}
	if imageEnv["CHATWARDEN_STORAGE_PATH"] == "" || imageEnv["CHATWARDEN_API_LISTEN"] == "" {
		t.Fatalf("the Dockerfile no longer sets the storage path and API address: %v", imageEnv)
	}

	stream, coord := "", ""
	shards := map[int]int{} // shard id -> processes
	shardCount, telegrams, queryNodes := 0, 0, 0
	for name, svc := range cf.Services {
		if svc.Build == nil {
			continue
		}
		if svc.Build.Context != ".." || svc.Build.Dockerfile != "Dockerfile" {
			t.Errorf("%s: built from %+v, want the project's Dockerfile", name, *svc.Build)
		}
		if len(svc.Command) != 3 || svc.Command[1] != "--config" || len(svc.Configs) != 1 || svc.Configs[0].Target != svc.Command[2] {
			t.Errorf("%s: command %v does not read its config %+v", name, svc.Command, svc.Configs)
			continue
		}
		for _, k := range []string{"CHATWARDEN_STORAGE_PATH", "CHATWARDEN_API_LISTEN", "CHATWARDEN_DISCORD_TOKEN",
			"CHATWARDEN_TELEGRAM_TOKEN", "CHATWARDEN_API_OPERATOR_TOKEN"} {
			t.Setenv(k, imageEnv[k])
		}
		for k, v := range svc.Environment {
			if strings.HasPrefix(v, "${") { // supplied when the fleet starts
				v = "a-secret-from-the-environment-0123456789"
			}
			t.Setenv(k, v)
		}
		src, ok := cf.Configs[svc.Configs[0].Source]
		if !ok {
			t.Errorf("%s: no config %s", name, svc.Configs[0].Source)
			continue
		}
		cfg, err := config.Parse([]byte(src.Content), name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !cfg.Cluster.Enabled() || cfg.API.Listen == "" {
			t.Errorf("%s: not in the fleet (cluster.nats_url %q) or no API (%q)", name, cfg.Cluster.NATSURL, cfg.API.Listen)
		}
		urls := strings.Split(cfg.Cluster.NATSURL, ",")
		slices.Sort(urls)
		if !slices.Equal(urls, natsURLs) {
			t.Errorf("%s: cluster.nats_url %q, want every NATS server %v", name, cfg.Cluster.NATSURL, natsURLs)
		}
		if stream != "" && cfg.Cluster.Stream != stream {
			t.Errorf("%s: stream %s, another process uses %s", name, cfg.Cluster.Stream, stream)
		}
		stream = cfg.Cluster.Stream
		if coord != "" && cfg.Cluster.CoordinationBucket != coord {
			t.Errorf("%s: coordination bucket %s, another process uses %s", name, cfg.Cluster.CoordinationBucket, coord)
		}
		coord = cfg.Cluster.CoordinationBucket
		switch svc.Command[0] {
		case "api":
			queryNodes++
			if cfg.Discord.Enabled || cfg.Telegram.Enabled {
				t.Errorf("%s: a query node runs no platform", name)
			}
		case "run":
			if cfg.Telegram.Enabled {
				telegrams++
			}
			if cfg.Discord.Enabled {
				shards[cfg.Discord.ShardID]++
				if shardCount != 0 && cfg.Discord.ShardCount != shardCount {
					t.Errorf("%s: shard_count %d, another process says %d", name, cfg.Discord.ShardCount, shardCount)
				}
				shardCount = cfg.Discord.ShardCount
			}
		default:
			t.Errorf("%s: unknown subcommand %s", name, svc.Command[0])
		}
	}
	if queryNodes == 0 || telegrams != len(shards) {
		t.Errorf("%d query nodes (want some), %d processes with Telegram (want every shard process, %d)", queryNodes, telegrams, len(shards))
	}
	for id := range shardCount {
		if shards[id] != 1 {
			t.Errorf("discord shard %d runs in %d processes, want 1", id, shards[id])
		}
	}
	if len(shards) != shardCount || shardCount < 2 {
		t.Errorf("shards %v of %d", shards, shardCount)
	}

	// The setup creates what the processes use, replicated.
	setup := strings.Join(cf.Services["nats-setup"].Command, " ")
	for _, want := range []string{"stream add " + stream + " --subjects '" + cluster.SubjectPrefix + ".>' --replicas 3",
		"--dupe-window 10m", "kv add " + cluster.TokenBucket(stream) + " --replicas 3",
		"kv add " + coord + " --replicas 3 --history 1"} {
		if !strings.Contains(setup, want) {
			t.Errorf("nats-setup %q lacks %q", setup, want)
		}
	}
}
