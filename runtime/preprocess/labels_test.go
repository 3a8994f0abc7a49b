package preprocess

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestImageNetLabels(t *testing.T) {
	labels := ImageNetLabels()
	if len(labels) != 1000 {
		t.Fatalf("%d labels, want 1000", len(labels))
	}
	// Spot checks against torchvision's _IMAGENET_CATEGORIES.
	for i, want := range map[int]string{0: "tench", 1: "goldfish", 281: "tabby", 999: "toilet tissue"} {
		if labels[i] != want {
			t.Errorf("label %d = %q, want %q", i, labels[i], want)
		}
	}
	labels[0] = "changed"
	if ImageNetLabels()[0] != "tench" {
		t.Error("ImageNetLabels returned shared storage")
	}
	if err := CheckLabels(labels, 1000); err != nil {
		t.Error(err)
	}
	if err := CheckLabels(labels, 21841); err == nil || !strings.Contains(err.Error(), "1000 labels for a head with 21841") {
		t.Errorf("CheckLabels(1000 labels, 21841) = %v", err)
	}
}

func TestReadLabels(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	got, err := ReadLabels(write("crlf.txt", "cat\r\ndog house\r\n"))
	if err != nil || len(got) != 2 || got[0] != "cat" || got[1] != "dog house" {
		t.Errorf("CRLF file: %q, %v", got, err)
	}
	bad := []struct{ name, text, want, reason string }{
		{"empty.txt", "", "no class names", "an empty file names no class"},
		{"blank.txt", "cat\n\ndog\n", "line 2 is blank", "a blank line would shift every later class"},
	}
	for _, tc := range bad {
		p := write(tc.name, tc.text)
		if _, err := ReadLabels(p); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v; want an error naming the file and saying %q (%s)", tc.name, err, tc.want, tc.reason)
		}
	}
	if _, err := ReadLabels(filepath.Join(dir, "missing.txt")); err == nil {
		t.Error("missing file accepted")
	}
}
