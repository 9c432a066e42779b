package moderation

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/chatwarden/chatwarden/moderation/links"
)

// CanonicalDomain returns a list entry's domain in the form links reports
// hosts: lower case, punycode for IDN, without "*.", a leading or trailing
// dot, a scheme, a port or a path. It returns "" for entries that are not
// a domain.
func CanonicalDomain(entry string) string {
	d := strings.TrimSpace(entry)
	if i := strings.Index(d, "://"); i >= 0 {
		d = d[i+3:]
	}
	if i := strings.IndexAny(d, "/?#"); i >= 0 {
		d = d[:i]
	}
	if i := strings.LastIndexByte(d, '@'); i >= 0 {
		d = d[i+1:]
	}
	if i := strings.LastIndexByte(d, ':'); i >= 0 && !strings.Contains(d[:i], ":") {
		d = d[:i] // a port; IPv6 addresses hold more than one colon
	}
	d = strings.TrimPrefix(d, "*.")
	d = strings.Trim(d, ".")
	if d == "" {
		return ""
	}
	ascii := true
	for i := 0; i < len(d); i++ {
		c := d[i]
		if c >= 0x80 {
			ascii = false
			break
		}
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == ':' || c == '[' || c == ']') {
			return ""
		}
	}
	if ascii {
		return strings.Trim(strings.ToLower(d), "[]")
	}
	// IDN: let the link finder canonicalise it the way it does hosts.
	found := links.Find("http://" + d + "/")
	if len(found) != 1 {
		return ""
	}
	return found[0].Host
}

// domainSet is a set of canonical domains; a domain covers its subdomains.
type domainSet map[string]struct{}

// match returns the entry covering host, or "".
func (s domainSet) match(host string) string {
	for h := host; h != ""; {
		if _, ok := s[h]; ok {
			return h
		}
		i := strings.IndexByte(h, '.')
		if i < 0 {
			break
		}
		h = h[i+1:]
	}
	return ""
}

// readDomainFile reads a file of one domain a line. Blank lines and #
// comments are skipped; hosts-file lines ("0.0.0.0 evil.com") count by
// their last field; URLs count by their host.
func readDomainFile(path string) (domainSet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read deny list: %w", err)
	}
	defer f.Close()
	set := make(domainSet)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if d := CanonicalDomain(fields[len(fields)-1]); d != "" && d != "localhost" && d != "0.0.0.0" {
			set[d] = struct{}{}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read deny list %s: %w", path, err)
	}
	return set, nil
}

// denyFiles holds the operator's deny-list files and reloads each when its
// size or modification time changes.
type denyFiles struct {
	mu    sync.RWMutex
	files []*denyFile
}

type denyFile struct {
	path  string
	mod   time.Time
	size  int64
	set   domainSet
	err   string // the last reload error, reported once
	count int
}

// loadDenyFiles reads every file; a file that cannot be read is an error.
func loadDenyFiles(paths []string) (*denyFiles, error) {
	d := &denyFiles{}
	for _, p := range paths {
		f := &denyFile{path: p}
		if _, err := f.reload(); err != nil {
			return nil, err
		}
		d.files = append(d.files, f)
	}
	return d, nil
}

// reload rereads the file if it changed; it reports whether it did. On
// error the previous contents stay in force.
func (f *denyFile) reload() (bool, error) {
	st, err := os.Stat(f.path)
	if err != nil {
		return false, fmt.Errorf("deny list %s: %w", f.path, err)
	}
	if f.set != nil && st.ModTime().Equal(f.mod) && st.Size() == f.size {
		return false, nil
	}
	set, err := readDomainFile(f.path)
	if err != nil {
		return false, err
	}
	f.set, f.mod, f.size, f.count = set, st.ModTime(), st.Size(), len(set)
	return true, nil
}

// refresh reloads changed files, returning the errors of those that
// failed (each once until it recovers) and the paths reloaded.
func (d *denyFiles) refresh() (reloaded []string, errs []error) {
	if d == nil {
		return nil, nil
	}
	d.mu.RLock()
	files := d.files
	d.mu.RUnlock()
	for _, f := range files {
		c := &denyFile{path: f.path}
		d.mu.RLock()
		c.mod, c.size, c.set, c.err = f.mod, f.size, f.set, f.err
		d.mu.RUnlock()
		changed, err := c.reload()
		d.mu.Lock()
		switch {
		case err != nil:
			if f.err != err.Error() {
				errs = append(errs, err)
			}
			f.err = err.Error()
		case changed:
			f.mod, f.size, f.set, f.count, f.err = c.mod, c.size, c.set, c.count, ""
			reloaded = append(reloaded, f.path)
		default:
			f.err = ""
		}
		d.mu.Unlock()
	}
	return reloaded, errs
}

// match returns the file entry covering host, or "".
func (d *denyFiles) match(host string) string {
	if d == nil {
		return ""
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, f := range d.files {
		if m := f.set.match(host); m != "" {
			return m
		}
	}
	return ""
}
