package readme

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/failsoft/failsoft/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

const root = "../.."

// snippet is a Go code block of the README and the file it says it is quoted from.
type snippet struct {
	line   int
	source string // path from the repository root
	code   []string
}

func readmeSnippets(t *testing.T) []snippet {
	t.Helper()
	snippetComment := regexp.MustCompile(`^<!-- snippet: (\S+) -->$`)
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	lines := strings.Split(string(b), "\n")
	var out []snippet
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```go" {
			continue
		}
		s := snippet{line: i + 1}
		for j := i - 1; j >= 0 && j >= i-2; j-- {
			if m := snippetComment.FindStringSubmatch(strings.TrimSpace(lines[j])); m != nil {
				s.source = m[1]
			}
		}
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			s.code = append(s.code, lines[i])
		}
		out = append(out, s)
	}
	return out
}

// chunks splits code at blank lines; each chunk's lines are trimmed of their indentation.
func chunks(code []string) [][]string {
	var out [][]string
	var cur []string
	for _, l := range append(code, "") {
		if strings.TrimSpace(l) == "" {
			if len(cur) > 0 {
				out = append(out, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, strings.TrimSpace(l))
	}
	return out
}

// contains reports whether lines holds chunk as consecutive lines (compared trimmed).
func contains(lines, chunk []string) bool {
	for i := 0; i+len(chunk) <= len(lines); i++ {
		ok := true
		for j := range chunk {
			if strings.TrimSpace(lines[i+j]) != chunk[j] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// TestEveryGoBlockOfTheREADMEIsQuotedFromACompiledExample: each ```go block is preceded by
// <!-- snippet: path --> naming an example_test.go file (compiled, and vetted, by go test
// of its package or module), and each of the block's paragraphs appears in that file, line
// for line, whatever the indentation. Edit the example, then quote it.
func TestEveryGoBlockOfTheREADMEIsQuotedFromACompiledExample(t *testing.T) {
	snippets := readmeSnippets(t)
	require.NotEmpty(t, snippets)
	for _, s := range snippets {
		if !assert.NotEmpty(t, s.source, "README.md:%d: a ```go block without <!-- snippet: path --> before it", s.line) {
			continue
		}
		assert.True(t, strings.HasSuffix(s.source, "_test.go"), "README.md:%d: %s is not a test file", s.line, s.source)
		b, err := os.ReadFile(filepath.Join(root, s.source))
		if !assert.NoError(t, err, "README.md:%d", s.line) {
			continue
		}
		file := strings.Split(string(b), "\n")
		for _, c := range chunks(s.code) {
			assert.True(t, contains(file, c), "README.md:%d: this paragraph is not in %s:\n%s",
				s.line, s.source, strings.Join(c, "\n"))
		}
	}
}

// TestExamplesImportOnlyPublicPackages: the programs the README calls copyable
// (examples/echo, examples/nethttp, examples/proxy and its Echo mount) build when copied out
// of the repository (go mod init, go build): they import no failsoft internal package. (The
// demo is run from the repository, with its fault-injecting upstream.)
func TestExamplesImportOnlyPublicPackages(t *testing.T) {
	checked := 0
	for _, dir := range []string{"echo", "nethttp", "proxy", "proxy/echo"} {
		files, err := filepath.Glob(filepath.Join(root, "examples", dir, "*.go"))
		require.NoError(t, err)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue // tests may use the repository's helpers; they are not the program
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			require.NoError(t, err)
			for _, imp := range af.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				assert.False(t, strings.HasPrefix(path, "github.com/failsoft/failsoft/internal"),
					"%s imports %s: the program cannot be copied out of the repository", f, path)
			}
			checked++
		}
	}
	assert.GreaterOrEqual(t, checked, 4)
}

// TestREADMEListsEveryMetric: the "Metrics and operations" section names every metric the
// Prometheus and OpenTelemetry modules export and every admin endpoint of the proxy.
func TestREADMEListsEveryMetric(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err)
	readme := string(b)
	_, section, ok := strings.Cut(readme, "## Metrics and operations")
	require.True(t, ok, "the README has a Metrics and operations section")
	section, _, _ = strings.Cut(section, "\n## ")
	for _, src := range []struct {
		file string
		re   *regexp.Regexp
	}{
		{"metrics/prometheus/prometheus.go", regexp.MustCompile(`(?:counter|desc)\("([a-z_]+)"`)},
		{"metrics/prometheus/prometheus.go", regexp.MustCompile(`Name: "([a-z_]+)"`)},
		{"metrics/otel/otel.go", regexp.MustCompile(`(?:counter|histogram|gauge|observedCounter)\("(failsoft\.[a-z_.]+)"`)},
	} {
		code, err := os.ReadFile(filepath.Join(root, src.file))
		require.NoError(t, err)
		found := src.re.FindAllStringSubmatch(string(code), -1)
		require.NotEmpty(t, found, src.file)
		for _, m := range found {
			name := m[1]
			if !strings.HasPrefix(name, "failsoft.") {
				name = "failsoft_" + name
			}
			assert.Contains(t, section, "`"+name, "%s: %s is not listed", src.file, name)
		}
	}
	for _, ep := range []string{"GET /metrics", "GET /healthz", "GET /readyz", "GET /stats", "DELETE /cache?url=", "DELETE /cache?tag="} {
		assert.Contains(t, section, ep)
	}
}
