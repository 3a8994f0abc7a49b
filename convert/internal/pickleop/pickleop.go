// Package pickleop names the pickle opcodes of protocols 2-5 (as in
// Python's pickle.py). It is shared by the checkpoint reader
// (convert/torchfile) and the writer its tests use (convert/internal/torchsave);
// it holds constants only.
package pickleop

// Pickle opcodes (names as in Python's pickle.py without the underscores).
const (
	Mark           = '('
	Stop           = '.'
	Pop            = '0'
	PopMark        = '1'
	Dup            = '2'
	BinFloat       = 'G'
	BinInt         = 'J'
	BinInt1        = 'K'
	BinInt2        = 'M'
	None           = 'N'
	BinPersID      = 'Q'
	Reduce         = 'R'
	BinString      = 'T'
	ShortBinString = 'U'
	BinUnicode     = 'X'
	Append         = 'a'
	Build          = 'b'
	Global         = 'c'
	Dict           = 'd'
	EmptyDict      = '}'
	Appends        = 'e'
	BinGet         = 'h'
	LongBinGet     = 'j'
	List           = 'l'
	EmptyList      = ']'
	BinPut         = 'q'
	LongBinPut     = 'r'
	SetItem        = 's'
	Tuple          = 't'
	EmptyTuple     = ')'
	SetItems       = 'u'
	Proto          = 0x80
	NewObj         = 0x81
	Tuple1         = 0x85
	Tuple2         = 0x86
	Tuple3         = 0x87
	NewTrue        = 0x88
	NewFalse       = 0x89
	Long1          = 0x8a
	Long4          = 0x8b
	BinBytes       = 'B'
	ShortBinBytes  = 'C'
	ShortBinUni    = 0x8c
	BinUnicode8    = 0x8d
	BinBytes8      = 0x8e
	EmptySet       = 0x8f
	AddItems       = 0x90
	FrozenSet      = 0x91
	NewObjEx       = 0x92
	StackGlobal    = 0x93
	Memoize        = 0x94
	Frame          = 0x95
	ByteArray8     = 0x96
)
