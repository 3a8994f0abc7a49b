package mambaout_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/internal/repo"
)

// TestInspectObject checks the inspect --json object of a timm training
// checkpoint: the architecture, the inferred config, the preprocessing and
// the provenance.
func TestInspectObject(t *testing.T) {
	m, info, err := mambaout.Load(synthPath("training.pth"), mambaout.Options{})
	if err != nil {
		t.Fatal(err)
	}
	obj, err := mambaout.InspectObject(m.Config, info, mambaout.EvalPreprocess)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	js := string(b)
	for _, want := range []string{
		`"architecture":"mambaout"`, `"dims":[6,12,18,24]`, `"depths":[1,1,2,1]`, `"num_classes":5`,
		`"crop_pct":1`, `"interpolation":"bicubic"`, `"layout":"training"`, `"weights_key":"state_dict"`,
		`"variant":""`, `"norm_eps":0.000001`,
	} {
		if !strings.Contains(js, want) {
			t.Errorf("inspect object lacks %s:\n%s", want, js)
		}
	}
	femto := repo.SharedFixture("mambaout", "mambaout_femto", "checkpoint.pth")
	if femto == "" {
		t.Skip("shared fixture mambaout/mambaout_femto absent (../shared/fixtures not checked out)")
	}
	m, info, err = mambaout.Load(femto, mambaout.Options{})
	if err != nil {
		t.Fatal(err)
	}
	obj, err = mambaout.InspectObject(m.Config, info, mambaout.EvalPreprocess)
	if err != nil {
		t.Fatal(err)
	}
	if obj["variant"] != "mambaout_femto" || obj["param_count"] != int64(7304536) {
		t.Errorf("femto: variant %v, param_count %v; want mambaout_femto, 7304536 (manifest)", obj["variant"], obj["param_count"])
	}
}
