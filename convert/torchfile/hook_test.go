package torchfile

// LoadCheckpoint runs data through the Vim loader (convert.LoadFrom):
// with default options, or with ema for model_ema weights and a head cls
// token. The hostile-input and fuzz tests use it so that every input also
// goes through the loader that consumes this reader. convert imports this
// package, so only an external test package can reach it: loader_test.go
// sets it.
var LoadCheckpoint func(data []byte, ema bool) error
