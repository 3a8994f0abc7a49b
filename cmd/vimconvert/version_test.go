package main

import (
	"os"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/runtime"
)

func TestVersionCommand(t *testing.T) {
	if _, err := os.Stat(runtime.DefaultLibraryPath()); err != nil {
		t.Skipf("ONNX Runtime absent (%s): run `make setup`", runtime.DefaultLibraryPath())
	}
	code, stdout, stderr := runCLI(t, "version")
	if code != 0 {
		t.Fatalf("version: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{"vimconvert " + graph.ProducerVersion, "onnxruntime " + runtime.ORTVersion, "plugin ", "registered in onnxruntime", "cpu isa   " + runtime.PluginISA()} {
		if !strings.Contains(stdout, want) {
			t.Errorf("version output lacks %q:\n%s", want, stdout)
		}
	}
	if code, _, stderr := runCLI(t, "version", "extra"); code != 2 || !strings.Contains(stderr, "no arguments") {
		t.Errorf("version extra: exit %d, stderr %q", code, stderr)
	}
	t.Setenv(runtime.EnvPlugin, t.TempDir()+"/none.so")
	if code, stdout, _ := runCLI(t, "version"); code != 1 || !strings.Contains(stdout, "not registered") {
		t.Errorf("missing plugin: exit %d, stdout %q; want 1 and 'not registered'", code, stdout)
	}
}
