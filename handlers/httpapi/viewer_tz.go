package httpapi

import (
	"crypto/hmac"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Time zones: the viewer shows times in the zone the moderator chooses in
// the header (UTC until they do). The session remembers the choice with
// its grant (link, token and operator sessions alike). The zones are IANA names loaded with time.LoadLocation
// from the system's zoneinfo (the Docker image's distroless base has it);
// a zone the system lacks is not offered.

// viewerZones are the zones offered, UTC first, then west to east.
var viewerZones = []string{
	"UTC",
	"Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles", "America/Denver", "America/Chicago",
	"America/New_York", "America/Toronto", "America/Mexico_City", "America/Bogota", "America/Sao_Paulo",
	"America/Argentina/Buenos_Aires", "Atlantic/Azores", "Europe/London", "Europe/Dublin", "Europe/Lisbon",
	"Africa/Lagos", "Europe/Paris", "Europe/Berlin", "Europe/Madrid", "Europe/Rome", "Europe/Amsterdam",
	"Europe/Warsaw", "Africa/Cairo", "Africa/Johannesburg", "Europe/Athens", "Europe/Kyiv", "Europe/Istanbul",
	"Europe/Moscow", "Asia/Dubai", "Asia/Tehran", "Asia/Karachi", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Dhaka",
	"Asia/Bangkok", "Asia/Jakarta", "Asia/Shanghai", "Asia/Singapore", "Asia/Manila", "Asia/Tokyo", "Asia/Seoul",
	"Australia/Perth", "Australia/Adelaide", "Australia/Sydney", "Pacific/Auckland",
}

var (
	zonesOnce sync.Once
	zones     map[string]*time.Location // the offered zones this system has
	zoneNames []string
)

func loadZones() {
	zones = map[string]*time.Location{"UTC": time.UTC}
	zoneNames = []string{"UTC"}
	for _, name := range viewerZones[1:] {
		if loc, err := time.LoadLocation(name); err == nil {
			zones[name] = loc
			zoneNames = append(zoneNames, name)
		}
	}
}

// zoneOf returns the offered zone called name; UTC for anything else.
func zoneOf(name string) (*time.Location, string) {
	zonesOnce.Do(loadZones)
	if loc, ok := zones[name]; ok {
		return loc, name
	}
	return time.UTC, "UTC"
}

// zoneOptions lists the offered zones, selected the one in use.
func zoneOptions(selected string) []option {
	zonesOnce.Do(loadZones)
	out := make([]option, len(zoneNames))
	for i, n := range zoneNames {
		out[i] = option{Value: n, Label: strings.ReplaceAll(n, "_", " "), Selected: n == selected}
	}
	return out
}

// sessionZone is the zone the request's session chose.
func sessionZone(p principal) (*time.Location, string) {
	return zoneOf(p.tz)
}

// zoneForm is what the header's time zone form needs.
type zoneForm struct {
	Zone  string // the zone in use
	Zones []option
	Back  string // the page to return to
}

// newZoneForm returns to the page shown: its path and query, without a
// property parameter a property's session cannot use anyway.
func newZoneForm(r *http.Request, p principal, zone string) zoneForm {
	q := r.URL.Query()
	if !p.operator {
		q.Del("property")
	}
	back := r.URL.Path
	if len(q) > 0 {
		back += "?" + q.Encode()
	}
	return zoneForm{Zone: zone, Zones: zoneOptions(zone), Back: backTo(back)}
}

// backTo keeps a path of this site to return to; "/" for anything else.
func backTo(s string) string {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") || strings.ContainsAny(s, "\r\n") {
		return "/"
	}
	return s
}

// handleTimezone remembers the zone chosen in the header's form for the
// session, and returns to the page it was chosen on.
func (s *Server) handleTimezone(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r) {
		writeError(w, http.StatusForbidden, "PERMISSION_DENIED", "", "cross-site form posts are refused")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	_, token, ok, err := s.session(w, r)
	if err != nil {
		s.sessionFailed(w, r, err)
		return
	}
	if !ok {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if r.ParseForm() != nil || !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(s.csrf(token))) {
		writeError(w, http.StatusForbidden, "PERMISSION_DENIED", "", "the form is stale: reload the page")
		return
	}
	zone := r.PostForm.Get("tz")
	zonesOnce.Do(loadZones)
	if !slices.Contains(zoneNames, zone) {
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "tz", "%q is not one of the offered time zones", zone)
		return
	}
	if err := s.updateSession(token, func(g *linkGrant) { g.TZ = zone }); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, backTo(r.PostForm.Get("back")), http.StatusSeeOther)
}
