package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aidant/aidant/models"
	"github.com/aidant/aidant/models/storetest"
)

func TestExportImportRoundTrip(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			src, dst := dbVars(t, d), dbVars(t, d)
			run := func(vars map[string]string, stdin string, args ...string) string {
				t.Helper()
				env, out, errb := testEnv(args, vars, stdin)
				if err := Run(context.Background(), env); err != nil {
					t.Fatalf("%v: %v\n%s", args, err, errb)
				}
				return out.String()
			}
			run(src, "", "migrate")
			run(src, "", "seed", "--demo")
			dir := t.TempDir()
			first, csvPath := filepath.Join(dir, "nth.json"), filepath.Join(dir, "nth.csv")
			run(src, "", "export", "--operation", "1", "--out", first, "--csv", csvPath)

			run(dst, "", "migrate")
			raw, err := os.ReadFile(first)
			if err != nil {
				t.Fatal(err)
			}
			if out := run(dst, string(raw), "import"); !strings.Contains(out, "imported operation 1 (NTH)") {
				t.Errorf("import said %q", out)
			}
			second := run(dst, "", "export", "--operation", "1")
			if a, b := withoutExportTime(t, raw), withoutExportTime(t, []byte(second)); a != b {
				t.Errorf("the archive changed on the round trip (%d vs %d bytes)", len(a), len(b))
			}
			var arch struct {
				Outcomes []json.RawMessage
				Events   []json.RawMessage
			}
			if err := json.Unmarshal(raw, &arch); err != nil {
				t.Fatal(err)
			}
			if len(arch.Outcomes) < 500 || len(arch.Events) < len(arch.Outcomes) {
				t.Errorf("archive holds %d outcomes and %d events", len(arch.Outcomes), len(arch.Events))
			}
			csvRaw, _ := os.ReadFile(csvPath)
			if got, want := bytes.Count(csvRaw, []byte("\n")), len(arch.Outcomes)+1; got != want {
				t.Errorf("CSV has %d lines, want %d", got, want)
			}
			// New writes after the import get fresh ids rather than colliding with restored ones.
			env, _, errb := testEnv([]string{"import"}, dst, string(raw))
			if err := Run(context.Background(), env); err == nil || !strings.Contains(err.Error(), "empty") {
				t.Errorf("a second import: %v %s, want a refusal", err, errb)
			}
			store := openForTest(t, dst)
			sctx := storetest.Ctx()
			ids, err := store.ListOperations(sctx)
			if err != nil || len(ids) != 1 {
				t.Fatalf("operations after import: %v %d", err, len(ids))
			}
			f, err := store.ForceByCode(sctx, "NTH")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := store.CreateOperation(sctx, opInput(f.ID)); err != nil {
				t.Errorf("a new operation after the import: %v", err)
			}
		})
	}
}

func withoutExportTime(t *testing.T, raw []byte) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "exported_at")
	b, _ := json.Marshal(m)
	return string(b)
}

func opInput(forceID int64) models.OperationInput {
	return models.OperationInput{ForceID: &forceID, Name: "After the import", Theme: models.ThemeLabourExploitation,
		StartDate: models.NewDate(2020, 6, 1), EndDate: models.NewDate(2020, 6, 5)}
}
