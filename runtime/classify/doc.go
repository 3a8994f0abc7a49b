// Package classify runs an image classifier on image files: it decodes and
// preprocesses them (package preprocess) in batches, runs an exported ONNX
// model in ONNX Runtime (package runtime) or a checkpoint with the pure-Go
// reference (package verify), and gives each file's top-k classes with
// softmax probabilities.
//
// A model says how to feed it: Open reads the preprocessing recipe, input
// format and class names from the metadata of a model exported by
// vimconvert (graph.MetaPreprocessRecipe and friends). What the model does
// not record is taken from ModelOptions or, failing that, from hustvl/Vim's
// evaluation defaults, and every such assumption is returned in
// Model.Notes for the caller to show.
//
// A file that cannot be read or decoded gives a Result with an error and
// never stops the other files.
//
// What it must not do: decode or resize images itself (package preprocess
// owns that), build or compare models, or print anything but through
// WriteResult; an assumption it cannot avoid is a Note, never silent.
package classify
