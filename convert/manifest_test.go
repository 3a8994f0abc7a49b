package convert

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/vimconvert/vimconvert/convert/internal/torchsave"

	"github.com/vimconvert/vimconvert/internal/repo"
)

// manifest is the part of fixtures/manifest.json the loader tests read.
type manifest struct {
	Fixtures map[string]struct {
		RegistryName     string                     `json:"registry_name"`
		CheckpointLayout string                     `json:"checkpoint_layout"`
		EffectiveConfig  map[string]any             `json:"effective_config"`
		StateDict        map[string]json.RawMessage `json:"state_dict"`
		Stats            map[string]json.RawMessage `json:"stats"`
	} `json:"fixtures"`
}

func loadManifest(t *testing.T) *manifest { return torchsave.Manifest[manifest](t) }

// fixturePath returns the bundled copy of a manifest path, else the shared
// copy, else "".
func fixturePath(rel string) string { return torchsave.FixturePath(rel) }

// readSynthetic returns a file of fixtures/synthetic.
func readSynthetic(t testing.TB, name string) []byte {
	b, err := os.ReadFile(filepath.Join(repo.Fixture("synthetic"), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
