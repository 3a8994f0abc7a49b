package verify

import (
	"fmt"

	"github.com/vimconvert/vimconvert/convert"
)

// CheckModel verifies that m is complete and self-consistent (convert's
// Model.Validate: every tensor of the table present with the shape its
// Config implies, and a readout Forward defines). Forward calls it first,
// so a bad model is an error, never a panic. Errors wrap ErrModel.
func CheckModel(m *convert.Model) error {
	if m == nil {
		return fmt.Errorf("%w: nil model", ErrModel)
	}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrModel, err)
	}
	return nil
}
