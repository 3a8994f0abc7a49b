package convert

// DetectVim reports whether a state dict with these tensor names is a Vim
// one, and otherwise which of the tensors every Vim state dict has are
// missing: the rows of the name table that every configuration has, for
// layer 0. A "module." prefix on every name is ignored. Like
// mambaout.Detect, it decides the architecture only; Load checks every
// tensor.
func DetectVim(names []string) (ok bool, missing []string) {
	set := KeySet(names)
	var none Config // every optional row's condition is false for the zero Config
	for _, specs := range [][]TensorSpec{ModelTensors, LayerTensors} {
		for _, s := range specs {
			key := s.Key(0)
			if s.Present(&none) && !set[key] {
				missing = append(missing, key)
			}
		}
	}
	return len(missing) == 0, missing
}
