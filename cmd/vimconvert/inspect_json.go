package main

import (
	"bytes"
	"encoding/json"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/convert/arch"
)

// inspectObject returns the object `vimconvert inspect --json` prints: the
// config's keys (cls_token_position null without a cls token) plus
// param_count, weights, dtype, the provenance fields of info and
// args_model ("" when the checkpoint has no args), every key always there.
func inspectObject(c convert.Config, info *convert.Info) (map[string]any, error) {
	b, err := c.MarshalJSON()
	if err != nil {
		return nil, err
	}
	obj := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // numbers stay exact
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	obj["architecture"] = arch.Vim
	convert.PutInfoFields(obj, info)
	obj["args_model"] = info.ArgsModel
	return obj, nil
}
