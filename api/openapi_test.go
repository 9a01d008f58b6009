package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aidant/aidant/api"
	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
)

// openAPIFile is the document as it is embedded in the binary.
const openAPIFile = "openapi.json"

// document is the part of an OpenAPI document these tests read.
type document struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas   map[string]schema          `json:"schemas"`
		Responses map[string]json.RawMessage `json:"responses"`
	} `json:"components"`
}

type schema struct {
	Properties map[string]json.RawMessage `json:"properties"`
	Required   []string                   `json:"required"`
	Enum       []string                   `json:"enum"`
}

type operation struct {
	Roles     []string                   `json:"x-roles"`
	Responses map[string]json.RawMessage `json:"responses"`
}

// methods are the keys of a path item that are operations, not shared fields.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func mustReadDocument(tb testing.TB) ([]byte, document) {
	tb.Helper()
	raw, err := os.ReadFile(openAPIFile)
	if err != nil {
		tb.Fatalf("read %s: %v", openAPIFile, err)
	}
	var doc document
	if err := json.Unmarshal(raw, &doc); err != nil {
		tb.Fatalf("%s is not valid JSON: %v", openAPIFile, err)
	}
	return raw, doc
}

func mustNewServer(tb testing.TB) *api.Server {
	tb.Helper()
	return api.New(api.DefaultConfig(), storetest.Open(tb, "sqlite"), slog.New(slog.DiscardHandler))
}

// operations lists the document's operations as "METHOD /path" with OpenAPI {param} paths.
func operations(tb testing.TB, doc document) map[string]operation {
	tb.Helper()
	out := map[string]operation{}
	for path, item := range doc.Paths {
		for key, raw := range item {
			if !slices.Contains(methods, key) {
				continue
			}
			var op operation
			if err := json.Unmarshal(raw, &op); err != nil {
				tb.Fatalf("%s %s: %v", key, path, err)
			}
			out[strings.ToUpper(key)+" "+path] = op
		}
	}
	return out
}

var echoParam = regexp.MustCompile(`:([A-Za-z0-9_]+)`)
var openAPIParam = regexp.MustCompile(`\{([A-Za-z0-9_]+)\}`)

func toOpenAPIPath(echoPath string) string { return echoParam.ReplaceAllString(echoPath, "{$1}") }
func toEchoPath(openAPIPath string) string { return openAPIParam.ReplaceAllString(openAPIPath, ":$1") }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestOpenAPIDocumentCoversEveryRoute checks the document is OpenAPI 3.1 and describes exactly
// the routes Echo serves, the dashboard's catch-all apart.
func TestOpenAPIDocumentCoversEveryRoute(t *testing.T) {
	_, doc := mustReadDocument(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}

	served := map[string]bool{}
	for _, r := range mustNewServer(t).Echo().Routes() {
		if r.Path == "/*" {
			continue // the dashboard's static files
		}
		served[r.Method+" "+toOpenAPIPath(r.Path)] = true
	}
	documented := operations(t, doc)
	for _, k := range sortedKeys(served) {
		if _, ok := documented[k]; !ok {
			t.Errorf("%s is served but not in %s", k, openAPIFile)
		}
	}
	for _, k := range sortedKeys(documented) {
		if !served[k] {
			t.Errorf("%s is in %s but not served", k, openAPIFile)
		}
	}
}

// TestOpenAPIRolesMatchPolicy checks each operation's x-roles against api.Policy.
func TestOpenAPIRolesMatchPolicy(t *testing.T) {
	_, doc := mustReadDocument(t)
	ops := operations(t, doc)
	if len(ops) == 0 {
		t.Fatal("the document has no operations")
	}
	for _, k := range sortedKeys(ops) {
		method, path, _ := strings.Cut(k, " ")
		access, ok := api.Policy[method+" "+toEchoPath(path)]
		if !ok {
			t.Errorf("%s: no entry in api.Policy", k)
			continue
		}
		want := make([]string, len(access))
		for i, r := range access {
			want[i] = string(r)
		}
		got := slices.Clone(ops[k].Roles)
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: x-roles = %v, want %v", k, got, want)
		}
	}
}

// TestOpenAPIServedOverHTTP checks the server hands out the document byte for byte.
func TestOpenAPIServedOverHTTP(t *testing.T) {
	want, _ := mustReadDocument(t)
	ts := httptest.NewServer(mustNewServer(t).Handler())
	defer ts.Close()

	resp, err := http.Get(ts.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", resp.StatusCode, got)
	}
	if ct, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", resp.Header.Get("Content-Type"))
	}
	if !bytes.Equal(got, want) {
		t.Errorf("served %d bytes that differ from %s (%d bytes)", len(got), openAPIFile, len(want))
	}
}

// TestOpenAPISchemasMatchTypes checks each schema has exactly the JSON fields of the Go type
// it describes, so a field added to a model cannot go undocumented.
func TestOpenAPISchemasMatchTypes(t *testing.T) {
	_, doc := mustReadDocument(t)
	types := map[string]any{
		"Force": models.Force{}, "Operation": models.Operation{}, "Location": models.Location{}, "Shift": models.Shift{},
		"Outcome": models.Outcome{}, "User": models.User{}, "AuditEntry": models.AuditEntry{}, "Target": models.Target{},
		"ForceInput": models.ForceInput{}, "OperationInput": models.OperationInput{}, "OperationPatch": models.OperationPatch{},
		"LocationInput": models.LocationInput{}, "LocationPatch": models.LocationPatch{},
		"ShiftInput": models.ShiftInput{}, "ShiftPatch": models.ShiftPatch{},
		"OutcomeInput": models.OutcomeInput{}, "OutcomePatch": models.OutcomePatch{},
		"OperationSummary": models.OperationSummary{}, "MeasureTotal": models.MeasureTotal{},
		"LocationTotals": models.LocationTotals{}, "VictimTotals": models.VictimTotals{},
		"NationalSummary": models.NationalSummary{}, "ForceReturn": models.ForceReturn{}, "DayTotals": models.DayTotals{},
		"MeasureInfo": models.MeasureInfo{}, "FieldError": models.FieldError{},
		"LoginRequest": api.LoginRequest{}, "Me": api.Me{}, "Reference": api.Reference{}, "Problem": api.Problem{},
		"ForceList": api.List[models.Force]{}, "OperationList": api.List[models.Operation]{},
		"LocationList": api.List[models.Location]{}, "ShiftList": api.List[models.Shift]{},
		"OutcomeList": api.List[models.Outcome]{}, "AuditList": api.List[models.AuditEntry]{},
	}
	for _, name := range sortedKeys(types) {
		s, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("schema %s is missing", name)
			continue
		}
		want := jsonFields(reflect.TypeOf(types[name]))
		got := sortedKeys(s.Properties)
		if !slices.Equal(got, want) {
			t.Errorf("schema %s has properties %v, want %v", name, got, want)
		}
		for _, r := range s.Required {
			if !slices.Contains(want, r) {
				t.Errorf("schema %s requires %q, which is not a field", name, r)
			}
		}
	}
}

// jsonFields returns the sorted JSON names of a struct's encoded fields.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIEnumsMatchModels checks each enum lists exactly the values the server accepts.
func TestOpenAPIEnumsMatchModels(t *testing.T) {
	_, doc := mustReadDocument(t)
	measures := make([]string, len(models.Measures))
	for i, m := range models.Measures {
		measures[i] = string(m.Measure)
	}
	enums := map[string][]string{
		"Theme":           strs(models.Themes),
		"OperationStatus": strs(models.OperationStatuses),
		"LocationKind":    strs(models.LocationKinds),
		"Agency":          strs(models.Agencies),
		"Measure":         measures,
		"Indicator":       strs(models.Indicators),
		"LeafletLanguage": models.LeafletLanguages,
		"ShiftStatus":     strs(models.ShiftStatuses),
		"Role":            strs(models.Roles),
		"ErrorCode": strs([]models.ErrorCode{models.EBadRequest, models.EInvalid, models.ENotFound, models.EConflict,
			models.EUnauthorized, models.EForbidden, models.ETooLarge, models.EMethod, models.EUnsupported, models.ETooMany,
			models.EUnavailable, models.EInternal}),
	}
	for _, name := range sortedKeys(enums) {
		got := slices.Clone(doc.Components.Schemas[name].Enum)
		want := slices.Clone(enums[name])
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("enum %s = %v, want %v", name, got, want)
		}
	}
}

func strs[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// TestOpenAPIReferencesResolve checks every $ref names a component, and every error response
// of every operation is a Problem sent as application/problem+json.
func TestOpenAPIReferencesResolve(t *testing.T) {
	raw, doc := mustReadDocument(t)
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		t.Fatal(err)
	}
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["$ref"].(string); ok && resolve(tree, r) == nil {
				t.Errorf("%s: $ref %q names nothing", at, r)
			}
			for k, c := range x {
				walk(at+"/"+k, c)
			}
		case []any:
			for _, c := range x {
				walk(at, c)
			}
		}
	}
	walk("#", tree)

	for key, op := range operations(t, doc) {
		if len(op.Responses) == 0 {
			t.Errorf("%s has no responses", key)
		}
		for status, raw := range op.Responses {
			if status < "400" {
				continue
			}
			var resp struct {
				Ref     string `json:"$ref"`
				Content map[string]struct {
					Schema struct {
						Ref string `json:"$ref"`
					} `json:"schema"`
				} `json:"content"`
			}
			if err := json.Unmarshal(raw, &resp); err != nil {
				t.Fatal(err)
			}
			if resp.Ref != "" {
				name := strings.TrimPrefix(resp.Ref, "#/components/responses/")
				if err := json.Unmarshal(doc.Components.Responses[name], &resp); err != nil {
					t.Errorf("%s %s: %v", key, status, err)
					continue
				}
			}
			if got := resp.Content["application/problem+json"].Schema.Ref; got != "#/components/schemas/Problem" || len(resp.Content) != 1 {
				t.Errorf("%s %s: want only application/problem+json with the Problem schema, got %v", key, status, resp.Content)
			}
		}
	}
}

// resolve follows a local JSON pointer such as #/components/schemas/Force; nil if it names nothing.
func resolve(tree any, ref string) any {
	path, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	cur := tree
	for _, part := range strings.Split(path, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		if cur, ok = m[part]; !ok {
			return nil
		}
	}
	return cur
}
