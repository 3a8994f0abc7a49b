package ops

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/repo"
)

// TestMakefileFetchesTestedRuntimes checks that the version lists outside
// Go name exactly TestedRuntimes: what `make setup` fetches (Makefile
// ORT_VERSION + ORT_COMPAT_VERSIONS) and what `make -C ops host-test` runs.
// A version tested but not fetched would be skipped silently; one fetched
// but not listed would never be tested.
func TestMakefileFetchesTestedRuntimes(t *testing.T) {
	want := slices.Sorted(slices.Values(TestedRuntimes))
	cases := []struct {
		reason string
		file   string
		re     *regexp.Regexp // every submatch 1 is a space-separated list of versions
	}{
		{"make setup fetches them", repo.Path("Makefile"),
			regexp.MustCompile(`(?m)^ORT_(?:COMPAT_VERSIONS|VERSION)\s*\?=\s*(.+)$`)},
		{"make -C ops host-test runs them", repo.Path("ops", "Makefile"),
			regexp.MustCompile(`(?m)^\s*@for v in ([0-9. ]+); do`)},
	}
	for _, tc := range cases {
		b, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range tc.re.FindAllStringSubmatch(string(b), -1) {
			got = append(got, strings.Fields(m[1])...)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s (%s): versions %v, want ops.TestedRuntimes %v", tc.reason, tc.file, got, want)
		}
	}
}

// TestSecondRuntimeRefusedHost loads two ONNX Runtime libraries into one C
// host process: the plugin registered with the first (1.29.0) must refuse
// registration with each other fetched TestedRuntimes version by a status.
// Before, the second registration succeeded and its session crashed the
// process (the ops call the first runtime's API table).
func TestSecondRuntimeRefusedHost(t *testing.T) {
	host := testHost(t)
	first := ortLibrary()
	if _, err := os.Stat(first); err != nil {
		t.Skipf("ONNX Runtime library %s absent: %v", first, err)
	}
	for _, v := range TestedRuntimes[1:] {
		second := repo.Path("third_party", "onnxruntime", v, "libonnxruntime.so.1")
		if _, err := os.Stat(second); err != nil {
			t.Logf("ONNX Runtime %s not fetched: skipped", v)
			continue
		}
		out, err := exec.Command(host, first, pluginLibrary(), "--testdata", "testdata", "--second-ort", second).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "second runtime refused") {
			t.Errorf("second runtime %s: %v\n%s", v, err, out)
		}
	}
}
