package validate

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// dockerfile is deploy/Dockerfile reduced to its instructions, continuation lines joined.
type dockerfile struct {
	instructions [][2]string // keyword (upper case), rest of the line
}

func mustParseDockerfile(tb testing.TB) dockerfile {
	tb.Helper()
	text := mustRead(tb, "deploy/Dockerfile")
	var df dockerfile
	var cur string
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur += strings.TrimSuffix(trimmed, `\`) + " "
			continue
		}
		cur += trimmed
		kw, rest, _ := strings.Cut(cur, " ")
		df.instructions = append(df.instructions, [2]string{strings.ToUpper(kw), strings.TrimSpace(rest)})
		cur = ""
	}
	return df
}

// final returns the instructions of the last stage (the image that ships).
func (df dockerfile) final() [][2]string {
	last := 0
	for i, in := range df.instructions {
		if in[0] == "FROM" {
			last = i
		}
	}
	return df.instructions[last:]
}

// goBuild returns the words of the one RUN line that runs `go build`.
func (df dockerfile) goBuild(tb testing.TB) []string {
	tb.Helper()
	var found [][]string
	for _, in := range df.instructions {
		if in[0] == "RUN" && strings.Contains(in[1], "go build") {
			words, err := shellWords(in[1])
			if err != nil {
				tb.Fatalf("RUN %s: %v", in[1], err)
			}
			found = append(found, words)
		}
	}
	if len(found) != 1 {
		tb.Fatalf("want exactly one RUN … go build line in deploy/Dockerfile, found %d", len(found))
	}
	return found[0]
}

// shellWords splits a simple POSIX shell command: words, single and double quotes, backslashes.
// Anything it cannot take as one plain command (&&, ;, |, $, `) is refused, so the test never
// runs something other than what Docker would.
func shellWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '\t':
			if inWord {
				words, inWord = append(words, w.String()), false
				w.Reset()
			}
		case ch == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated '")
			}
			w.WriteString(s[i+1 : i+1+j])
			i, inWord = i+1+j, true
		case ch == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, errors.New(`unterminated "`)
			}
			if strings.ContainsAny(s[i+1:i+1+j], "$`\\") {
				return nil, fmt.Errorf("expansion inside %q", s[i:i+2+j])
			}
			w.WriteString(s[i+1 : i+1+j])
			i, inWord = i+1+j, true
		case ch == '\\' && i+1 < len(s):
			w.WriteByte(s[i+1])
			i, inWord = i+1, true
		case strings.IndexByte("&;|$`<>()", ch) >= 0:
			return nil, fmt.Errorf("shell syntax %q: keep the go build line one plain command", ch)
		default:
			w.WriteByte(ch)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

var envAssignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

func TestShellWords(t *testing.T) {
	got, err := shellWords(`CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "/out/a b" ./cmd/aidant`)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"CGO_ENABLED=0", "go", "build", "-trimpath", "-ldflags=-s -w", "-o", "/out/a b", "./cmd/aidant"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if _, err := shellWords(`go build ./... && rm -rf /`); err == nil {
		t.Fatal("a compound command was accepted")
	}
}

// TestDockerfile checks the image: a static build, distroless or scratch, a non-root user, the
// listen address and port, and a health check that uses the binary itself.
func TestDockerfile(t *testing.T) {
	df := mustParseDockerfile(t)
	words := df.goBuild(t)
	env := map[string]string{}
	i := 0
	for ; i < len(words) && envAssignment.MatchString(words[i]); i++ {
		k, v, _ := strings.Cut(words[i], "=")
		env[k] = v
	}
	args := words[i:]
	if env["CGO_ENABLED"] != "0" {
		t.Errorf("the go build line does not set CGO_ENABLED=0: %q", words)
	}
	if len(args) < 2 || args[0] != "go" || args[1] != "build" {
		t.Fatalf("the go build line runs %q", args)
	}
	if !slices.Contains(args, "-trimpath") {
		t.Error("go build without -trimpath")
	}
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "-ldflags=") && strings.Contains(a, "-s -w") }) {
		t.Error("go build without -ldflags='-s -w'")
	}
	if args[len(args)-1] != "./cmd/aidant" {
		t.Errorf("go build builds %q, want ./cmd/aidant", args[len(args)-1])
	}

	final := df.final()
	from := final[0][1]
	if !strings.HasPrefix(from, "gcr.io/distroless/static") && from != "scratch" {
		t.Errorf("final image FROM %s, want distroless/static or scratch", from)
	}
	has := func(kw, pattern string) bool {
		re := regexp.MustCompile(pattern)
		return slices.ContainsFunc(final, func(in [2]string) bool { return in[0] == kw && re.MatchString(in[1]) })
	}
	if !has("USER", `^[a-z0-9]`) || has("USER", `^(0|root)(:|$)`) {
		t.Error("the final image must set a non-root USER")
	}
	if has("USER", `^[a-z]`) {
		t.Error("USER should be numeric (65532:65532) so Kubernetes runAsNonRoot can verify it")
	}
	if !has("ENV", `^AIDANT_ADDR[= ]0\.0\.0\.0:8080$`) {
		t.Error("the final image must set AIDANT_ADDR=0.0.0.0:8080")
	}
	if !has("EXPOSE", `^8080(/tcp)?$`) {
		t.Error("the final image must EXPOSE 8080")
	}
	if !has("HEALTHCHECK", `CMD \["/aidant",\s*"healthcheck"\]`) {
		t.Error(`HEALTHCHECK must run ["/aidant", "healthcheck"] (no shell in the image)`)
	}
	if !has("ENTRYPOINT", `^\["/aidant"\]$`) {
		t.Error(`ENTRYPOINT must be ["/aidant"]: compose and Kubernetes pass only the subcommand`)
	}
	if !has("COPY", `--from=\S+\s+\S+\s+/aidant$`) {
		t.Error("the final image must COPY the built binary to /aidant")
	}
}

// TestDockerfileBuildsStaticBinary runs the Dockerfile's own go build line (output redirected to a
// temporary directory) from the repository root and checks the result is static and runs.
func TestDockerfileBuildsStaticBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the app")
	}
	words := mustParseDockerfile(t).goBuild(t)
	env := os.Environ()
	i := 0
	for ; envAssignment.MatchString(words[i]); i++ {
		env = append(env, words[i])
	}
	args := slices.Clone(words[i:])
	out := filepath.Join(t.TempDir(), "aidant")
	o := slices.Index(args, "-o")
	if o < 0 || o+1 >= len(args) {
		t.Fatalf("the go build line has no -o: %q", args)
	}
	args[o+1] = out

	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Dir, cmd.Env = root, env
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(words, " "), err, b)
	}

	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary has a %v program header: it is dynamically linked", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
	if f.Section(".symtab") != nil {
		t.Error("the binary has a symbol table: -ldflags '-s -w' did not apply")
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range []string{"patrol.html", "ops.html", "national.html"} {
		if !bytes.Contains(bin, []byte(page)) {
			t.Errorf("the dashboard's %s is not embedded in the binary", page)
		}
	}
	if bytes.Contains(bin, []byte(root+"/")) {
		t.Errorf("the binary holds the build directory %s: -trimpath did not apply", root)
	}

	// The image's HEALTHCHECK runs `/aidant healthcheck`; its --help must answer without a server.
	help := exec.CommandContext(ctx, out, "healthcheck", "--help")
	help.Env = []string{"AIDANT_ADDR=0.0.0.0:8080"}
	var stderr bytes.Buffer
	help.Stderr = &stderr
	if err := help.Run(); err != nil {
		t.Fatalf("healthcheck --help: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "-addr") {
		t.Errorf("healthcheck --help does not describe -addr:\n%s", stderr.String())
	}
	usage, _ := exec.CommandContext(ctx, out, "help").Output()
	for _, sub := range []string{"serve", "migrate", "seed --demo", "healthcheck"} {
		if !strings.Contains(string(usage), "aidant "+sub) {
			t.Errorf("usage does not list `aidant %s`, which deploy/ runs:\n%s", sub, usage)
		}
	}
}
