package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// A small OpenAPI 3 checker for the subset docs/openapi.yaml uses: every
// response the tests receive is matched to its path, method, status and
// media type in the document, and JSON bodies (and NDJSON lines) are
// validated against the schema: types, required, properties,
// additionalProperties, items, enum, pattern, format date-time, minimum,
// maximum, minItems, maxItems, maxLength and $ref.

type spec struct {
	doc   map[string]any
	paths []specPath
}

type specPath struct {
	template string
	segs     []string
	item     map[string]any
}

var (
	specOnce sync.Once
	specDoc  *spec
	specErr  error
)

func loadSpec(t testing.TB) *spec {
	t.Helper()
	specOnce.Do(func() {
		b, err := os.ReadFile("../../docs/openapi.yaml")
		if err != nil {
			specErr = err
			return
		}
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			specErr = fmt.Errorf("docs/openapi.yaml: %w", err)
			return
		}
		sp := &spec{doc: doc}
		for tmpl, item := range asMap(doc["paths"]) {
			sp.paths = append(sp.paths, specPath{template: tmpl, segs: strings.Split(tmpl, "/"), item: asMap(item)})
		}
		specDoc = sp
	})
	if specErr != nil {
		t.Fatal(specErr)
	}
	return specDoc
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// resolve follows a local $ref.
func (sp *spec) resolve(v any) map[string]any {
	m := asMap(v)
	for i := 0; i < 10; i++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		var cur any = sp.doc
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cur = asMap(cur)[part]
		}
		if cur == nil {
			panic("unresolved $ref " + ref)
		}
		m = asMap(cur)
	}
	return m
}

// operation finds the operation of a request path (without query).
func (sp *spec) operation(method, path string) (map[string]any, string, error) {
	segs := strings.Split(path, "/")
	for _, p := range sp.paths {
		if len(p.segs) != len(segs) {
			continue
		}
		ok := true
		for i, s := range p.segs {
			if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
				if segs[i] == "" {
					ok = false
				}
				continue
			}
			if _, suffix, found := strings.Cut(s, "}"); strings.HasPrefix(s, "{") && found {
				// A wildcard with a custom method ({user}:erase).
				if !strings.HasSuffix(segs[i], suffix) || len(segs[i]) == len(suffix) {
					ok = false
					break
				}
				continue
			}
			if s != segs[i] {
				ok = false
				break
			}
		}
		if ok {
			op := asMap(p.item[strings.ToLower(method)])
			if op == nil {
				return nil, "", fmt.Errorf("%s %s: the document has no %s operation", method, p.template, method)
			}
			return op, p.template, nil
		}
	}
	return nil, "", fmt.Errorf("%s %s: no path of the document matches", method, path)
}

// checkResponse validates a response against the document.
func (sp *spec) checkResponse(method, path string, status int, contentType string, body []byte) error {
	op, tmpl, err := sp.operation(method, path)
	if err != nil {
		return err
	}
	responses := asMap(op["responses"])
	resp := responses[strconv.Itoa(status)]
	if resp == nil {
		resp = responses["default"]
	}
	if resp == nil {
		return fmt.Errorf("%s %s: status %d is not documented", method, tmpl, status)
	}
	r := sp.resolve(resp)
	content := asMap(r["content"])
	if content == nil {
		if len(body) > 0 {
			return fmt.Errorf("%s %s %d: documented without content, got %d bytes", method, tmpl, status, len(body))
		}
		return nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("%s %s %d: content type %q: %v", method, tmpl, status, contentType, err)
	}
	media := asMap(content[mt])
	if media == nil {
		return fmt.Errorf("%s %s %d: media type %s is not documented (have %v)", method, tmpl, status, mt, keys(content))
	}
	schema := media["schema"]
	switch mt {
	case "application/json":
		v, err := decodeJSON(body)
		if err != nil {
			return fmt.Errorf("%s %s %d: %v", method, tmpl, status, err)
		}
		if errs := sp.validate(schema, v, "$"); len(errs) > 0 {
			return fmt.Errorf("%s %s %d: %s", method, tmpl, status, strings.Join(errs, "; "))
		}
	case "application/x-ndjson":
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, 1<<20)
		for n := 1; sc.Scan(); n++ {
			v, err := decodeJSON(sc.Bytes())
			if err != nil {
				return fmt.Errorf("%s %s %d: line %d: %v", method, tmpl, status, n, err)
			}
			if errs := sp.validate(schema, v, fmt.Sprintf("line %d", n)); len(errs) > 0 {
				return fmt.Errorf("%s %s %d: %s", method, tmpl, status, strings.Join(errs, "; "))
			}
		}
	}
	return nil
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return v, nil
}

var patternCache sync.Map

// validate returns the schema violations of v at path.
func (sp *spec) validate(schemaV any, v any, path string) []string {
	s := sp.resolve(schemaV)
	if s == nil {
		return nil
	}
	var errs []string
	bad := func(format string, a ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, a...)) }
	if v == nil {
		if s["nullable"] != true {
			bad("null is not allowed")
		}
		return errs
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if fmt.Sprint(e) == fmt.Sprint(v) {
				found = true
			}
		}
		if !found {
			bad("%v is not one of %v", v, enum)
		}
	}
	switch typ, _ := s["type"].(string); typ {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			bad("want an object, got %T", v)
			return errs
		}
		props := asMap(s["properties"])
		for _, r := range asSlice(s["required"]) {
			if _, ok := m[r.(string)]; !ok {
				bad("missing required %q", r)
			}
		}
		for k, val := range m {
			if ps, ok := props[k]; ok {
				errs = append(errs, sp.validate(ps, val, path+"."+k)...)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					bad("unexpected property %q", k)
				}
			case map[string]any:
				errs = append(errs, sp.validate(ap, val, path+"."+k)...)
			}
		}
	case "array":
		a, ok := v.([]any)
		if !ok {
			bad("want an array, got %T", v)
			return errs
		}
		if n, ok := s["minItems"].(int); ok && len(a) < n {
			bad("%d items, want at least %d", len(a), n)
		}
		if n, ok := s["maxItems"].(int); ok && len(a) > n {
			bad("%d items, want at most %d", len(a), n)
		}
		for i, item := range a {
			errs = append(errs, sp.validate(s["items"], item, fmt.Sprintf("%s[%d]", path, i))...)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			bad("want a string, got %T", v)
			return errs
		}
		if n, ok := s["maxLength"].(int); ok && len([]rune(str)) > n {
			bad("longer than %d", n)
		}
		if p, ok := s["pattern"].(string); ok {
			re, _ := patternCache.Load(p)
			if re == nil {
				re = regexp.MustCompile(p)
				patternCache.Store(p, re)
			}
			if !re.(*regexp.Regexp).MatchString(str) {
				bad("%q does not match %s", str, p)
			}
		}
		if s["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				bad("%q is not RFC 3339", str)
			}
		}
	case "integer", "number":
		num, ok := v.(json.Number)
		if !ok {
			bad("want a %s, got %T", typ, v)
			return errs
		}
		f, err := num.Float64()
		if err != nil || typ == "integer" && strings.ContainsAny(num.String(), ".eE") {
			bad("%s is not an %s", num, typ)
		}
		if min, ok := s["minimum"].(int); ok && f < float64(min) {
			bad("%v < minimum %d", f, min)
		}
		if max, ok := s["maximum"].(int); ok && f > float64(max) {
			bad("%v > maximum %d", f, max)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			bad("want a boolean, got %T", v)
		}
	case "":
	default:
		bad("schema type %q is not supported by this checker", typ)
	}
	return errs
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// TestOpenAPIDocument checks the document itself: it is OpenAPI 3, every
// $ref resolves, and every query parameter each endpoint accepts is
// documented for it (and nothing else).
func TestOpenAPIDocument(t *testing.T) {
	sp := loadSpec(t)
	if v, _ := sp.doc["openapi"].(string); !strings.HasPrefix(v, "3.") {
		t.Fatalf("openapi: %q, want 3.x", v)
	}
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch x := v.(type) {
		case map[string]any:
			if _, ok := x["$ref"].(string); ok {
				func() {
					defer func() {
						if p := recover(); p != nil {
							t.Errorf("%s: %v", at, p)
						}
					}()
					sp.resolve(x)
				}()
			}
			for k, val := range x {
				walk(val, at+"/"+k)
			}
		case []any:
			for i, val := range x {
				walk(val, fmt.Sprintf("%s[%d]", at, i))
			}
		}
	}
	walk(sp.doc, "#")
	for _, c := range []struct {
		path   string
		params []string
	}{
		{"/v1/properties/{property}/activities", listParams},
		{"/v1/properties/{property}/activities:export", exportParams},
		{"/v1/properties/{property}/activities:watch", watchParams},
	} {
		op, _, err := sp.operation("GET", c.path)
		if err != nil {
			t.Fatal(err)
		}
		var documented []string
		for _, p := range asSlice(op["parameters"]) {
			pm := sp.resolve(p)
			if pm["in"] == "query" {
				documented = append(documented, pm["name"].(string))
			}
		}
		slices.Sort(documented)
		want := slices.Sorted(slices.Values(c.params))
		if !slices.Equal(documented, want) {
			t.Errorf("%s: documented query parameters %v, the server takes %v", c.path, documented, want)
		}
	}
	// The checker itself must catch violations.
	bad := map[string]any{"kind": "chatwarden#activities", "items": []any{map[string]any{"kind": "nope"}}, "extra": true}
	if errs := sp.validate(map[string]any{"$ref": "#/components/schemas/Activities"}, bad, "$"); len(errs) < 3 {
		t.Errorf("the checker missed violations: %v", errs)
	}
}
