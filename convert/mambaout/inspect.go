package mambaout

import (
	"encoding/json"

	"github.com/vimconvert/vimconvert/convert"
)

// InspectObject returns the object `vimconvert inspect --json` prints for a
// MambaOut checkpoint: "architecture" ("mambaout"), the Config's keys, the
// evaluation preprocessing ("preprocess") and the provenance fields of info
// under the same keys as Vim's (convert.PutInfoFields).
func InspectObject(c Config, info *convert.Info) (map[string]any, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	obj := map[string]any{}
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, err
	}
	obj["architecture"] = Architecture
	obj["preprocess"] = EvalPreprocess
	convert.PutInfoFields(obj, info)
	return obj, nil
}
