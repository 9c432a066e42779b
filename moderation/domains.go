package moderation

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"slices"
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

// listEntry splits a list entry into its canonical domain and, for an
// entry that names a page (bit.ly/2zo2ibr, https://evil.com/login), its
// path: such an entry blocks that page, not the whole host (a shortener's
// other links stay). The path is "" for a domain entry.
func listEntry(entry string) (domain, path string) {
	domain = CanonicalDomain(entry)
	if strings.IndexByte(domain, '.') < 0 && strings.IndexByte(domain, ':') < 0 {
		return "", "" // one word is no host on the Internet
	}
	e := strings.TrimSpace(entry)
	if i := strings.Index(e, "://"); i >= 0 {
		e = e[i+3:]
	}
	if i := strings.IndexAny(e, "/?#"); i >= 0 {
		path = e[i:]
	}
	if path == "/" || strings.Trim(path, "/?#") == "" {
		path = ""
	}
	return domain, path
}

// linkPath returns the path, query and fragment of a link's URL ("" for
// none, or for mailto:).
func linkPath(url string) string {
	i := strings.Index(url, "://")
	if i < 0 {
		return ""
	}
	rest := url[i+3:]
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		return rest[j:]
	}
	return ""
}

// pathMatches reports whether path starts with prefix on a boundary: the
// prefix is the whole path or is followed by "/", "?" or "#".
func pathMatches(path, prefix string) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	if len(path) == len(prefix) || strings.HasSuffix(prefix, "/") {
		return true
	}
	switch path[len(prefix)] {
	case '/', '?', '#':
		return true
	}
	return false
}

// domainSet is a set of canonical domains, a domain covering its
// subdomains, and of pages: host → path prefixes.
type domainSet struct {
	domains map[string]struct{}
	pages   map[string][]string
}

func newDomainSet() domainSet {
	return domainSet{domains: make(map[string]struct{}), pages: make(map[string][]string)}
}

// add adds a list entry; it reports false for one that is not a domain.
func (s domainSet) add(entry string) bool {
	d, p := listEntry(entry)
	if d == "" {
		return false
	}
	if p == "" {
		s.domains[d] = struct{}{}
	} else if !slices.Contains(s.pages[d], p) {
		s.pages[d] = append(s.pages[d], p)
	}
	return true
}

// match returns the entry covering a link's host and path, or "".
func (s domainSet) match(host, path string) string {
	for h := host; h != ""; {
		if _, ok := s.domains[h]; ok {
			return h
		}
		i := strings.IndexByte(h, '.')
		if i < 0 {
			break
		}
		h = h[i+1:]
	}
	if len(s.pages) > 0 {
		for _, p := range s.pages[strings.TrimPrefix(host, "www.")] {
			if pathMatches(path, p) {
				return host + p
			}
		}
	}
	return ""
}

// listStats says what a list file gave.
type listStats struct {
	Domains, Pages int
	Ignored        []string // "line N: text" of lines that are no entry, the first few
	IgnoredCount   int
}

// readDomainFile reads a file of one domain (or page URL) a line. Blank
// lines and # comments are skipped; hosts-file lines ("0.0.0.0 evil.com")
// count by their last field; URLs with a path count as pages.
func readDomainFile(path string) (domainSet, listStats, error) {
	var st listStats
	f, err := os.Open(path)
	if err != nil {
		return domainSet{}, st, fmt.Errorf("read deny list: %w", err)
	}
	defer f.Close()
	set := newDomainSet()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		last := fields[len(fields)-1]
		if d := CanonicalDomain(last); d == "0.0.0.0" || len(fields) > 1 && !strings.Contains(d, ".") && isAddr(fields[0]) {
			continue // a hosts file's own lines: 127.0.0.1 localhost
		}
		if !set.add(last) {
			st.IgnoredCount++
			if len(st.Ignored) < 5 {
				st.Ignored = append(st.Ignored, fmt.Sprintf("line %d: %.60q", n, sc.Text()))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return domainSet{}, st, fmt.Errorf("read deny list %s: %w", path, err)
	}
	st.Domains = len(set.domains)
	for _, p := range set.pages {
		st.Pages += len(p)
	}
	return set, st, nil
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
	stats listStats
}

// loadDenyFiles reads every file; a file that cannot be read is an error.
// The engine logs each file's listStats.
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
	if f.set.domains != nil && st.ModTime().Equal(f.mod) && st.Size() == f.size {
		return false, nil
	}
	set, stats, err := readDomainFile(f.path)
	if err != nil {
		return false, err
	}
	f.set, f.mod, f.size, f.stats = set, st.ModTime(), st.Size(), stats
	return true, nil
}

// refresh reloads changed files, returning the errors of those that
// failed (each once until it recovers) and the paths reloaded.
func (d *denyFiles) refresh() (reloaded []*denyFile, errs []error) {
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
			f.mod, f.size, f.set, f.stats, f.err = c.mod, c.size, c.set, c.stats, ""
			reloaded = append(reloaded, c)
		default:
			f.err = ""
		}
		d.mu.Unlock()
	}
	return reloaded, errs
}

// match returns the file entry covering a link's host and path, or "".
func (d *denyFiles) match(host, path string) string {
	if d == nil {
		return ""
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, f := range d.files {
		if m := f.set.match(host, path); m != "" {
			return m
		}
	}
	return ""
}

func isAddr(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}
