package validate

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"testing"
)

// repoRoot is the application's repository, two levels above this package.
const repoRoot = "../.."

// configGo is where every setting of the app is declared: flag, environment variable, default.
var configGo = filepath.Join(repoRoot, "cmd", "aidant", "config.go")

var settingEnvRE = regexp.MustCompile(`"(AIDANT_[A-Z_]+|DATABASE_URL)"`)

// mustAppSettings returns the environment variables the app reads, taken from the text of
// cmd/aidant/config.go, so a deployment naming a setting the app lacks fails here.
func mustAppSettings(tb testing.TB) map[string]bool {
	tb.Helper()
	src, err := os.ReadFile(configGo)
	if err != nil {
		tb.Fatalf("read the app's settings: %v", err)
	}
	names := map[string]bool{}
	for _, m := range settingEnvRE.FindAllSubmatch(src, -1) {
		names[string(m[1])] = true
	}
	for _, want := range []string{"DATABASE_URL", "AIDANT_ADDR", "AIDANT_MIGRATE", "AIDANT_SHUTDOWN_TIMEOUT"} {
		if !names[want] {
			tb.Fatalf("%s does not declare %s: has the settings table moved?", configGo, want)
		}
	}
	return names
}

// mustRead returns a file of the repository, relative to its root.
func mustRead(tb testing.TB, rel string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func TestAppSettingsFound(t *testing.T) {
	names := mustAppSettings(t)
	if got, min := len(names), 15; got < min {
		t.Fatalf("found %d settings in %s, want at least %d: %v", got, configGo, min, sortedKeys(names))
	}
}

// TestOperationsDocListsEverySetting keeps docs/OPERATIONS.md in step with config.go.
func TestOperationsDocListsEverySetting(t *testing.T) {
	doc := mustRead(t, "docs/OPERATIONS.md")
	for _, name := range sortedKeys(mustAppSettings(t)) {
		if !regexp.MustCompile("`" + name + "`").MatchString(doc) {
			t.Errorf("docs/OPERATIONS.md does not document %s", name)
		}
	}
}

func itoa[T ~int | ~int32 | ~int64 | ~uint32](n T) string { return strconv.FormatInt(int64(n), 10) }
