package classify

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteResult prints r on w: with asJSON one JSON object on one line
// ({"file": ..., "top": [{"index", "label", "prob"}, ...]} or {"file": ...,
// "error": ...}); else "FILE: error: ..." or the file name followed by one
// indented line per class: probability, index and label.
func WriteResult(w io.Writer, r Result, asJSON bool) error {
	if r.Err != nil && r.Error == "" {
		r.Error = r.Err.Error()
	}
	if asJSON {
		js, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", js)
		return err
	}
	var b strings.Builder
	if r.Error != "" {
		fmt.Fprintf(&b, "%s: error: %s\n", r.File, r.Error)
	} else {
		fmt.Fprintf(&b, "%s\n", r.File)
		for _, p := range r.Top {
			fmt.Fprintf(&b, "%s\n", strings.TrimRight(fmt.Sprintf("  %.4f  %4d  %s", p.Prob, p.Index, p.Label), " "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
