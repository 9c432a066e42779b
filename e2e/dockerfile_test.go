package e2e

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDockerfile checks what hadolint cannot be installed here to check,
// and what the README promises of the image: a multi-stage build of a
// static binary, a non-root runtime with the database in /data, a health
// check on /healthz, and a .dockerignore that keeps databases and the git
// history out of the build context. (.ci/run runs the build stage's
// command outside Docker.)
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	for what, re := range map[string]string{
		"two stages":                  `(?ms)^FROM .+ AS build$.*^FROM `,
		"a static build":              `(?m)^RUN CGO_ENABLED=0 go build `,
		"a non-root user":             `(?m)^USER nonroot`,
		"the /data volume":            `(?m)^VOLUME \["/data"\]`,
		"the database in /data":       `CHATWARDEN_STORAGE_PATH=/data/`,
		"a health check on /healthz":  `(?m)^HEALTHCHECK .*\n?.*healthcheck.*/healthz`,
		"an exec-form entrypoint":     `(?m)^ENTRYPOINT \["`,
		"a pinned Go toolchain major": `(?m)^FROM golang:1\.\d+`,
	} {
		if !regexp.MustCompile(re).MatchString(df) {
			t.Errorf("Dockerfile lacks %s (/%s/)", what, re)
		}
	}
	// Where the API listens: 0.0.0.0 inside the container, published on
	// the host's loopback, and SECURITY.md and README say why.
	listen := regexp.MustCompile(`CHATWARDEN_API_LISTEN=(\S+)`).FindStringSubmatch(df)
	if listen == nil || listen[1] != "0.0.0.0:8080" {
		t.Errorf("Dockerfile's API address: %v", listen)
	}
	if !strings.Contains(df, "-p 127.0.0.1:8080:8080") {
		t.Error("the Dockerfile's example does not publish the port on the host's loopback")
	}
	for _, doc := range []string{"../SECURITY.md", "../README.md"} {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"0.0.0.0:8080", "-p 127.0.0.1:8080:8080"} {
			if !strings.Contains(string(text), want) {
				t.Errorf("%s does not say %q: the image and the docs disagree on where the API listens", doc, want)
			}
		}
	}
	if strings.Contains(df, "ADD ") {
		t.Error("Dockerfile uses ADD; COPY is explicit")
	}
	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", "*.db"} {
		if !strings.Contains(string(ignore), want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
	ci, err := os.ReadFile("../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ci), "CGO_ENABLED=0 go build -trimpath") {
		t.Error(".ci/run does not run the Dockerfile's build command")
	}
}
