package torchfile

// LoadCheckpoint runs data through the Vim loader (convert.LoadFrom):
// with default options, or with ema for model_ema weights and a head cls
// token. The hostile-input and fuzz tests use it so that every input also
// goes through the loader that consumes this reader. convert imports this
// package, so only an external test package can reach it: loader_test.go
// sets it.
var LoadCheckpoint func(data []byte, ema bool) error

// TinyVimStateDict returns the names and shapes of the smallest Vim state
// dict (one block, bimamba v2, middle cls token), from convert's tensor
// table; loader_test.go sets it too. The fuzz seeds are built from it.
var TinyVimStateDict func() (names []string, shapes map[string][]int)
