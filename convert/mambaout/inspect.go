package mambaout

import (
	"encoding/json"

	"github.com/vimconvert/vimconvert/convert"
)

// InspectObject returns the object `vimconvert inspect --json` prints for a
// MambaOut checkpoint or exported model: "architecture" ("mambaout"), the
// Config's keys, the evaluation preprocessing pre ("preprocess") and the
// provenance fields of info under the same keys as Vim's
// (convert.PutInfoFields).
func InspectObject(c Config, info *convert.Info, pre Preprocess) (map[string]any, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	obj := map[string]any{}
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, err
	}
	obj["architecture"] = Architecture
	obj["preprocess"] = pre
	convert.PutInfoFields(obj, info)
	return obj, nil
}
