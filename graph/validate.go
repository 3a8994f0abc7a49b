package graph

import (
	"fmt"

	"github.com/vimconvert/vimconvert/convert"
)

// Validate checks that m is a model Build can export: convert's
// Model.Validate (a consistent Config and every tensor of the table with
// the shape the Config implies), and every tensor named, since the name
// is its ONNX initializer's. The error names the first problem.
func Validate(m *convert.Model) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("graph: %w", err)
	}
	return convert.EachTensor(&m.Config, func(key string, s convert.TensorSpec, i int) error {
		if (*s.Slot(m, i)).Name == "" {
			return fmt.Errorf("graph: tensor %s has no name", key)
		}
		return nil
	})
}
