package torchfile

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/vimconvert/vimconvert/convert/internal/pickleop"
	"io"
	"math"
	"math/big"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds a small, strict pickle virtual machine for the subset of
// the pickle format (protocols 2-5) that torch.save writes. It is written
// for untrusted input:
//
//   - globals resolve only through an allow-list (pickleGlobals); any other
//     GLOBAL/STACK_GLOBAL is an error naming it, even if never called;
//   - "calls" (REDUCE, NEWOBJ, BUILD) run Go implementations of the few
//     allowed callables; nothing is ever executed;
//   - every length read from the stream is checked against the bytes that
//     remain before anything is allocated, so memory stays bounded by the
//     input size;
//   - nothing panics on malformed input: every stack access is checked.

// pickle value types. Plain Go values stand for Python scalars: nil (None),
// bool, int64, *big.Int (ints beyond int64), float64, string, []byte (bytes).
type (
	// pyTuple is an immutable Python tuple.
	pyTuple []any
	// pyList is a Python list (a pointer, since APPENDS mutates it).
	pyList struct{ items []any }
	// Dict is a Python dict or collections.OrderedDict with insertion
	// order kept. Only hashable scalar keys (str, int, bool, float, None,
	// bytes as string) are accepted.
	Dict struct {
		keys    []any
		values  []any
		index   map[any]int
		ordered bool           // collections.OrderedDict
		attrs   map[string]any // BUILD state (e.g. OrderedDict._metadata)
	}
	// pySet is a Python set/frozenset; members are kept but not deduplicated.
	pySet struct{ items []any }
	// Object is an instance of an allowed plain-data class
	// (argparse.Namespace): its attributes come from BUILD.
	Object struct {
		class string
		attrs *Dict
	}
	// pyGlobal is a resolved, allow-listed global (a class or function).
	pyGlobal struct {
		module, name string
		kind         globalKind
		storage      *storageType // for torch.*Storage classes
	}
)

type globalKind int

const (
	globalOrderedDict globalKind = iota
	globalNamespace
	globalStorageClass
	globalRebuildTensorV2
	globalRebuildTensor
	globalRebuildParameter
	globalRebuildParameterWithState
	globalRebuildFromTypeV2
	globalTensorClass
	globalParameterClass
	globalTorchSize
	globalSet
	globalFrozenSet
	globalDict
	globalList
	globalTuple
)

// pickleGlobals is the allow-list of globals a checkpoint may reference.
var pickleGlobals = map[string]globalKind{
	"collections.OrderedDict":                    globalOrderedDict,
	"argparse.Namespace":                         globalNamespace,
	"torch._utils._rebuild_tensor_v2":            globalRebuildTensorV2,
	"torch._utils._rebuild_tensor":               globalRebuildTensor,
	"torch._utils._rebuild_parameter":            globalRebuildParameter,
	"torch._utils._rebuild_parameter_with_state": globalRebuildParameterWithState,
	"torch._tensor._rebuild_from_type_v2":        globalRebuildFromTypeV2,
	"torch.Tensor":                               globalTensorClass,
	"torch._tensor.Tensor":                       globalTensorClass,
	"torch.nn.parameter.Parameter":               globalParameterClass,
	"torch.Size":                                 globalTorchSize,
	"builtins.set":                               globalSet,
	"builtins.frozenset":                         globalFrozenSet,
	"builtins.dict":                              globalDict,
	"builtins.list":                              globalList,
	"builtins.tuple":                             globalTuple,
	"__builtin__.set":                            globalSet,
	"__builtin__.frozenset":                      globalFrozenSet,
}

func init() {
	for name := range storageTypes {
		pickleGlobals["torch."+name] = globalStorageClass
	}
}

// errDisallowedGlobal is wrapped by the error for a global outside the
// allow-list.
var errDisallowedGlobal = errors.New("disallowed pickle global")

// limits against hostile inputs that stay within the byte budget.
const (
	maxPickleStack = 1 << 22 // values on the stack plus mark stack
	maxBigIntBytes = 1 << 10 // LONG1/LONG4 payload
)

// unpickler runs one pickle program.
type unpickler struct {
	r         *bufio.Reader
	remaining int64 // bytes left in the pickle region
	pos       int64

	stack     []any
	metaStack [][]any
	memo      map[uint32]any
	depth     int

	// persistentLoad resolves a BINPERSID argument (a storage reference).
	persistentLoad func(pid any) (any, error)
}

func newUnpickler(r io.Reader, size int64, persistentLoad func(any) (any, error)) *unpickler {
	return &unpickler{
		r:              bufio.NewReaderSize(r, 64<<10),
		remaining:      size,
		memo:           map[uint32]any{},
		persistentLoad: persistentLoad,
	}
}

// errTruncated reports a pickle that ends before its STOP opcode or inside
// an argument.
var errTruncated = errors.New("truncated pickle")

func (u *unpickler) readN(n int64) ([]byte, error) {
	if n < 0 || n > u.remaining {
		return nil, fmt.Errorf("%w: need %d bytes at offset %d, %d left", errTruncated, n, u.pos, u.remaining)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(u.r, buf); err != nil {
		return nil, fmt.Errorf("%w at offset %d: %v", errTruncated, u.pos, err)
	}
	u.remaining -= n
	u.pos += n
	return buf, nil
}

func (u *unpickler) readByte() (byte, error) {
	if u.remaining < 1 {
		return 0, fmt.Errorf("%w: no STOP opcode before offset %d", errTruncated, u.pos)
	}
	b, err := u.r.ReadByte()
	if err != nil {
		return 0, fmt.Errorf("%w at offset %d: %v", errTruncated, u.pos, err)
	}
	u.remaining--
	u.pos++
	return b, nil
}

func (u *unpickler) readUint(n int) (uint64, error) {
	b, err := u.readN(int64(n))
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

// readLine reads up to and excluding '\n' (protocol-0 style arguments of
// GLOBAL); bounded by the remaining bytes.
func (u *unpickler) readLine() (string, error) {
	var sb strings.Builder
	for {
		b, err := u.readByte()
		if err != nil {
			return "", err
		}
		if b == '\n' {
			return sb.String(), nil
		}
		if sb.Len() > 4096 {
			return "", fmt.Errorf("pickle text argument longer than 4096 bytes at offset %d", u.pos)
		}
		sb.WriteByte(b)
	}
}

func (u *unpickler) push(v any) error {
	if len(u.stack)+len(u.metaStack) >= maxPickleStack {
		return fmt.Errorf("pickle stack deeper than %d", maxPickleStack)
	}
	u.stack = append(u.stack, v)
	return nil
}

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 {
		return nil, fmt.Errorf("pickle stack underflow at offset %d", u.pos)
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) == 0 {
		return nil, fmt.Errorf("pickle stack underflow at offset %d", u.pos)
	}
	return u.stack[len(u.stack)-1], nil
}

// popMark returns the items pushed since the last MARK and restores the
// stack below it.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.metaStack) == 0 {
		return nil, fmt.Errorf("pickle: no MARK on the stack at offset %d", u.pos)
	}
	items := u.stack
	u.stack = u.metaStack[len(u.metaStack)-1]
	u.metaStack = u.metaStack[:len(u.metaStack)-1]
	return items, nil
}

// load runs the program until STOP and returns the top of the stack.
func (u *unpickler) load() (any, error) {
	for {
		op, err := u.readByte()
		if err != nil {
			return nil, err
		}
		done, err := u.step(op)
		if err != nil {
			return nil, err
		}
		if done {
			return u.pop()
		}
	}
}

func (u *unpickler) step(op byte) (stop bool, err error) {
	switch op {
	case pickleop.Proto:
		v, err := u.readByte()
		if err != nil {
			return false, err
		}
		if v < 2 || v > 5 {
			return false, fmt.Errorf("unsupported pickle protocol %d (want 2-5)", v)
		}
	case pickleop.Frame:
		// A framing hint: the frame's bytes follow inline.
		if _, err := u.readUint(8); err != nil {
			return false, err
		}
	case pickleop.Stop:
		return true, nil
	case pickleop.Mark:
		if len(u.stack)+len(u.metaStack) >= maxPickleStack {
			return false, fmt.Errorf("pickle stack deeper than %d", maxPickleStack)
		}
		u.metaStack = append(u.metaStack, u.stack)
		u.stack = nil
	case pickleop.Pop:
		_, err = u.pop()
	case pickleop.PopMark:
		_, err = u.popMark()
	case pickleop.Dup:
		v, err := u.top()
		if err != nil {
			return false, err
		}
		return false, u.push(v)
	case pickleop.None:
		return false, u.push(nil)
	case pickleop.NewTrue:
		return false, u.push(true)
	case pickleop.NewFalse:
		return false, u.push(false)
	case pickleop.BinInt:
		v, err := u.readUint(4)
		if err != nil {
			return false, err
		}
		return false, u.push(int64(int32(uint32(v))))
	case pickleop.BinInt1:
		v, err := u.readUint(1)
		if err != nil {
			return false, err
		}
		return false, u.push(int64(v))
	case pickleop.BinInt2:
		v, err := u.readUint(2)
		if err != nil {
			return false, err
		}
		return false, u.push(int64(v))
	case pickleop.Long1, pickleop.Long4:
		var n uint64
		if op == pickleop.Long1 {
			n, err = u.readUint(1)
		} else {
			n, err = u.readUint(4)
		}
		if err != nil {
			return false, err
		}
		if n > maxBigIntBytes {
			return false, fmt.Errorf("pickle integer of %d bytes exceeds the %d-byte limit", n, maxBigIntBytes)
		}
		b, err := u.readN(int64(n))
		if err != nil {
			return false, err
		}
		return false, u.push(decodeLong(b))
	case pickleop.BinFloat:
		b, err := u.readN(8)
		if err != nil {
			return false, err
		}
		return false, u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
	case pickleop.BinUnicode, pickleop.ShortBinUni, pickleop.BinUnicode8, pickleop.BinString, pickleop.ShortBinString:
		var n uint64
		switch op {
		case pickleop.ShortBinUni, pickleop.ShortBinString:
			n, err = u.readUint(1)
		case pickleop.BinUnicode8:
			n, err = u.readUint(8)
		default:
			n, err = u.readUint(4)
		}
		if err != nil {
			return false, err
		}
		if n > uint64(u.remaining) {
			return false, fmt.Errorf("%w: string of %d bytes at offset %d, %d left", errTruncated, n, u.pos, u.remaining)
		}
		b, err := u.readN(int64(n))
		if err != nil {
			return false, err
		}
		return false, u.push(string(b))
	case pickleop.BinBytes, pickleop.ShortBinBytes, pickleop.BinBytes8, pickleop.ByteArray8:
		var n uint64
		switch op {
		case pickleop.ShortBinBytes:
			n, err = u.readUint(1)
		case pickleop.BinBytes:
			n, err = u.readUint(4)
		default:
			n, err = u.readUint(8)
		}
		if err != nil {
			return false, err
		}
		if n > uint64(u.remaining) {
			return false, fmt.Errorf("%w: bytes of %d at offset %d, %d left", errTruncated, n, u.pos, u.remaining)
		}
		b, err := u.readN(int64(n))
		if err != nil {
			return false, err
		}
		return false, u.push(b)
	case pickleop.EmptyTuple:
		return false, u.push(pyTuple{})
	case pickleop.Tuple1, pickleop.Tuple2, pickleop.Tuple3:
		n := int(op-pickleop.Tuple1) + 1
		if len(u.stack) < n {
			return false, fmt.Errorf("pickle stack underflow building a %d-tuple at offset %d", n, u.pos)
		}
		t := make(pyTuple, n)
		copy(t, u.stack[len(u.stack)-n:])
		u.stack = u.stack[:len(u.stack)-n]
		return false, u.push(t)
	case pickleop.Tuple:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		return false, u.push(pyTuple(append([]any(nil), items...)))
	case pickleop.EmptyList:
		return false, u.push(&pyList{})
	case pickleop.List:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		return false, u.push(&pyList{items: append([]any(nil), items...)})
	case pickleop.Append, pickleop.Appends:
		var items []any
		if op == pickleop.Append {
			v, err := u.pop()
			if err != nil {
				return false, err
			}
			items = []any{v}
		} else if items, err = u.popMark(); err != nil {
			return false, err
		}
		t, err := u.top()
		if err != nil {
			return false, err
		}
		switch l := t.(type) {
		case *pyList:
			l.items = append(l.items, items...)
		case *pySet: // not produced by APPEND in CPython, but harmless
			l.items = append(l.items, items...)
		default:
			return false, fmt.Errorf("pickle APPEND to a %s at offset %d", TypeName(t), u.pos)
		}
	case pickleop.EmptyDict:
		return false, u.push(newPyDict())
	case pickleop.Dict:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		d := newPyDict()
		if err := d.setPairs(items); err != nil {
			return false, fmt.Errorf("pickle DICT at offset %d: %w", u.pos, err)
		}
		return false, u.push(d)
	case pickleop.SetItem, pickleop.SetItems:
		var items []any
		if op == pickleop.SetItem {
			if len(u.stack) < 2 {
				return false, fmt.Errorf("pickle stack underflow in SETITEM at offset %d", u.pos)
			}
			items = append([]any(nil), u.stack[len(u.stack)-2:]...)
			u.stack = u.stack[:len(u.stack)-2]
		} else if items, err = u.popMark(); err != nil {
			return false, err
		}
		t, err := u.top()
		if err != nil {
			return false, err
		}
		d, ok := t.(*Dict)
		if !ok {
			return false, fmt.Errorf("pickle SETITEM on a %s at offset %d", TypeName(t), u.pos)
		}
		if err := d.setPairs(items); err != nil {
			return false, fmt.Errorf("pickle SETITEMS at offset %d: %w", u.pos, err)
		}
	case pickleop.EmptySet:
		return false, u.push(&pySet{})
	case pickleop.AddItems:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		t, err := u.top()
		if err != nil {
			return false, err
		}
		s, ok := t.(*pySet)
		if !ok {
			return false, fmt.Errorf("pickle ADDITEMS on a %s at offset %d", TypeName(t), u.pos)
		}
		s.items = append(s.items, items...)
	case pickleop.FrozenSet:
		items, err := u.popMark()
		if err != nil {
			return false, err
		}
		return false, u.push(&pySet{items: append([]any(nil), items...)})
	case pickleop.BinPut, pickleop.LongBinPut:
		var idx uint64
		if op == pickleop.BinPut {
			idx, err = u.readUint(1)
		} else {
			idx, err = u.readUint(4)
		}
		if err != nil {
			return false, err
		}
		v, err := u.top()
		if err != nil {
			return false, err
		}
		u.memo[uint32(idx)] = v
	case pickleop.Memoize:
		v, err := u.top()
		if err != nil {
			return false, err
		}
		u.memo[uint32(len(u.memo))] = v
	case pickleop.BinGet, pickleop.LongBinGet:
		var idx uint64
		if op == pickleop.BinGet {
			idx, err = u.readUint(1)
		} else {
			idx, err = u.readUint(4)
		}
		if err != nil {
			return false, err
		}
		v, ok := u.memo[uint32(idx)]
		if !ok {
			return false, fmt.Errorf("pickle memo key %d not found at offset %d", idx, u.pos)
		}
		return false, u.push(v)
	case pickleop.Global:
		module, err := u.readLine()
		if err != nil {
			return false, err
		}
		name, err := u.readLine()
		if err != nil {
			return false, err
		}
		g, err := resolveGlobal(module, name)
		if err != nil {
			return false, err
		}
		return false, u.push(g)
	case pickleop.StackGlobal:
		nameV, err := u.pop()
		if err != nil {
			return false, err
		}
		moduleV, err := u.pop()
		if err != nil {
			return false, err
		}
		module, ok1 := moduleV.(string)
		name, ok2 := nameV.(string)
		if !ok1 || !ok2 {
			return false, fmt.Errorf("pickle STACK_GLOBAL needs two strings at offset %d", u.pos)
		}
		g, err := resolveGlobal(module, name)
		if err != nil {
			return false, err
		}
		return false, u.push(g)
	case pickleop.Reduce:
		args, err := u.pop()
		if err != nil {
			return false, err
		}
		fn, err := u.pop()
		if err != nil {
			return false, err
		}
		t, ok := args.(pyTuple)
		if !ok {
			return false, fmt.Errorf("pickle REDUCE arguments are a %s, not a tuple, at offset %d", TypeName(args), u.pos)
		}
		g, ok := fn.(*pyGlobal)
		if !ok {
			return false, fmt.Errorf("pickle REDUCE calls a %s at offset %d", TypeName(fn), u.pos)
		}
		v, err := callGlobal(g, t)
		if err != nil {
			return false, fmt.Errorf("at pickle offset %d: %w", u.pos, err)
		}
		return false, u.push(v)
	case pickleop.NewObj, pickleop.NewObjEx:
		var kwargs any
		if op == pickleop.NewObjEx {
			if kwargs, err = u.pop(); err != nil {
				return false, err
			}
		}
		args, err := u.pop()
		if err != nil {
			return false, err
		}
		cls, err := u.pop()
		if err != nil {
			return false, err
		}
		g, ok := cls.(*pyGlobal)
		if !ok {
			return false, fmt.Errorf("pickle NEWOBJ of a %s at offset %d", TypeName(cls), u.pos)
		}
		t, ok := args.(pyTuple)
		if !ok {
			return false, fmt.Errorf("pickle NEWOBJ arguments are a %s at offset %d", TypeName(args), u.pos)
		}
		if kw, ok := kwargs.(*Dict); kwargs != nil && (!ok || len(kw.keys) > 0) {
			return false, fmt.Errorf("pickle NEWOBJ_EX with keyword arguments for %s at offset %d", g, u.pos)
		}
		v, err := newObject(g, t)
		if err != nil {
			return false, fmt.Errorf("at pickle offset %d: %w", u.pos, err)
		}
		return false, u.push(v)
	case pickleop.Build:
		state, err := u.pop()
		if err != nil {
			return false, err
		}
		obj, err := u.top()
		if err != nil {
			return false, err
		}
		if err := build(obj, state); err != nil {
			return false, fmt.Errorf("at pickle offset %d: %w", u.pos, err)
		}
	case pickleop.BinPersID:
		pid, err := u.pop()
		if err != nil {
			return false, err
		}
		if u.persistentLoad == nil {
			return false, fmt.Errorf("pickle has a persistent id at offset %d where none is allowed", u.pos)
		}
		v, err := u.persistentLoad(pid)
		if err != nil {
			return false, err
		}
		return false, u.push(v)
	default:
		return false, fmt.Errorf("unsupported pickle opcode 0x%02x at offset %d", op, u.pos-1)
	}
	return false, err
}

// decodeLong decodes a little-endian two's complement integer.
func decodeLong(b []byte) any {
	if len(b) == 0 {
		return int64(0)
	}
	if len(b) <= 8 {
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		shift := uint(64 - 8*len(b))
		return int64(v<<shift) >> shift
	}
	be := make([]byte, len(b))
	for i := range b {
		be[len(b)-1-i] = b[i]
	}
	v := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	if v.IsInt64() {
		return v.Int64()
	}
	return v
}

func newPyDict() *Dict { return &Dict{index: map[any]int{}} }

// dictKey converts a pickle value to a comparable map key.
func dictKey(k any) (any, error) {
	switch v := k.(type) {
	case nil, bool, int64, float64, string:
		return v, nil
	case []byte:
		return "b:" + string(v), nil
	case *big.Int:
		return "i:" + v.String(), nil
	case pyTuple:
		// Flat tuples of scalars only: nested tuple keys could make the
		// encoding exponential in the input size.
		if len(v) > 64 {
			return nil, fmt.Errorf("tuple dict key of %d items (at most 64 supported)", len(v))
		}
		parts := make([]string, len(v))
		for i, e := range v {
			if _, nested := e.(pyTuple); nested {
				return nil, fmt.Errorf("nested tuple dict keys are not supported")
			}
			ek, err := dictKey(e)
			if err != nil {
				return nil, err
			}
			parts[i] = fmt.Sprintf("%T:%v", ek, ek)
		}
		return "t:(" + strings.Join(parts, ",") + ")", nil
	}
	return nil, fmt.Errorf("unhashable dict key of type %s", TypeName(k))
}

func (d *Dict) set(k, v any) error {
	hk, err := dictKey(k)
	if err != nil {
		return err
	}
	if i, ok := d.index[hk]; ok {
		d.values[i] = v
		return nil
	}
	d.index[hk] = len(d.keys)
	d.keys = append(d.keys, k)
	d.values = append(d.values, v)
	return nil
}

func (d *Dict) setPairs(items []any) error {
	if len(items)%2 != 0 {
		return fmt.Errorf("odd number of items (%d) for a dict", len(items))
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.set(items[i], items[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// get returns the value under a string key.
func (d *Dict) get(key string) (any, bool) {
	i, ok := d.index[key]
	if !ok {
		return nil, false
	}
	return d.values[i], true
}

func (g *pyGlobal) String() string { return g.module + "." + g.name }

func resolveGlobal(module, name string) (*pyGlobal, error) {
	full := module + "." + name
	kind, ok := pickleGlobals[full]
	if !ok {
		hint := ""
		if r, _ := utf8.DecodeRuneInString(name); unicode.IsUpper(r) {
			// a class: most often a whole model saved with torch.save(model)
			hint = "; a pickled object of a class, such as a whole model saved with torch.save(model), can only be rebuilt by running its code, which a checkpoint reader must not do: save model.state_dict() instead"
		}
		return nil, fmt.Errorf("%w %s (only torch tensor/storage rebuilders, collections.OrderedDict and argparse.Namespace are allowed%s)", errDisallowedGlobal, quoteGlobal(full), hint)
	}
	g := &pyGlobal{module: module, name: name, kind: kind}
	if kind == globalStorageClass {
		g.storage = storageTypes[name]
	}
	return g, nil
}

// quoteGlobal keeps an attacker-chosen global name printable and short.
func quoteGlobal(s string) string {
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return fmt.Sprintf("%q", s)[1 : len(fmt.Sprintf("%q", s))-1]
}

// TypeName describes a pickle value's type without printing its content
// (values may be huge or cyclic).
func TypeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *Dict:
		if x.ordered {
			return "OrderedDict"
		}
		return "dict"
	case *pySet:
		return "set"
	case *Object:
		return x.class
	case *pyGlobal:
		return "global " + x.String()
	case *storageRef:
		return "storage"
	case *TensorRef:
		return "tensor"
	}
	return fmt.Sprintf("%T", v)
}

// callGlobal implements REDUCE for the allowed callables.
func callGlobal(g *pyGlobal, args pyTuple) (any, error) {
	switch g.kind {
	case globalOrderedDict, globalDict:
		d := newPyDict()
		d.ordered = g.kind == globalOrderedDict
		if len(args) == 0 {
			return d, nil
		}
		if len(args) == 1 {
			if err := fillDictFromPairs(d, args[0]); err != nil {
				return nil, fmt.Errorf("%s: %w", g, err)
			}
			return d, nil
		}
	case globalRebuildTensorV2, globalRebuildTensor:
		return rebuildTensor(g, args)
	case globalRebuildParameter, globalRebuildParameterWithState:
		// (data, requires_grad, backward_hooks[, state])
		if len(args) >= 3 {
			if t, ok := args[0].(*TensorRef); ok {
				return t, nil
			}
			return nil, fmt.Errorf("%s: data is a %s, not a tensor", g, TypeName(args[0]))
		}
	case globalRebuildFromTypeV2:
		// (func, new_type, args, state): only plain tensors/parameters.
		if len(args) == 4 {
			fn, ok := args[0].(*pyGlobal)
			typ, ok2 := args[1].(*pyGlobal)
			inner, ok3 := args[2].(pyTuple)
			if !ok || !ok2 || !ok3 || (typ.kind != globalTensorClass && typ.kind != globalParameterClass) ||
				(fn.kind != globalRebuildTensorV2 && fn.kind != globalRebuildTensor && fn.kind != globalRebuildParameter) {
				return nil, fmt.Errorf("%s: only torch.Tensor and Parameter are supported", g)
			}
			return callGlobal(fn, inner)
		}
	case globalTorchSize, globalTuple:
		if len(args) == 1 {
			return sequenceItems(args[0], g)
		}
		if len(args) == 0 {
			return pyTuple{}, nil
		}
	case globalList:
		if len(args) == 0 {
			return &pyList{}, nil
		}
		if len(args) == 1 {
			items, err := sequenceItems(args[0], g)
			if err != nil {
				return nil, err
			}
			return &pyList{items: items}, nil
		}
	case globalSet, globalFrozenSet:
		if len(args) == 0 {
			return &pySet{}, nil
		}
		if len(args) == 1 {
			items, err := sequenceItems(args[0], g)
			if err != nil {
				return nil, err
			}
			return &pySet{items: items}, nil
		}
	case globalNamespace:
		if len(args) == 0 {
			return &Object{class: "argparse.Namespace", attrs: newPyDict()}, nil
		}
	default:
		return nil, fmt.Errorf("%s cannot be called", g)
	}
	return nil, fmt.Errorf("%s called with %d arguments", g, len(args))
}

func sequenceItems(v any, g *pyGlobal) (pyTuple, error) {
	switch s := v.(type) {
	case pyTuple:
		return s, nil
	case *pyList:
		return pyTuple(s.items), nil
	}
	return nil, fmt.Errorf("%s of a %s", g, TypeName(v))
}

func fillDictFromPairs(d *Dict, v any) error {
	var pairs []any
	switch s := v.(type) {
	case pyTuple:
		pairs = s
	case *pyList:
		pairs = s.items
	case *Dict:
		for i := range s.keys {
			if err := d.set(s.keys[i], s.values[i]); err != nil {
				return err
			}
		}
		return nil
	default:
		return fmt.Errorf("cannot build a dict from a %s", TypeName(v))
	}
	for _, p := range pairs {
		kv, ok := p.(pyTuple)
		if !ok || len(kv) != 2 {
			return fmt.Errorf("dict item is a %s, not a (key, value) pair", TypeName(p))
		}
		if err := d.set(kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}

// newObject implements NEWOBJ (cls.__new__(cls, *args)).
func newObject(g *pyGlobal, args pyTuple) (any, error) {
	switch g.kind {
	case globalNamespace:
		return &Object{class: "argparse.Namespace", attrs: newPyDict()}, nil
	case globalOrderedDict, globalDict:
		d := newPyDict()
		d.ordered = g.kind == globalOrderedDict
		return d, nil
	case globalSet, globalFrozenSet:
		return &pySet{}, nil
	case globalList:
		return &pyList{}, nil
	}
	return nil, fmt.Errorf("cannot instantiate %s", g)
}

// build implements BUILD (obj.__setstate__(state) or __dict__ update).
func build(obj, state any) error {
	// state may be (dict_state, slot_state)
	if t, ok := state.(pyTuple); ok && len(t) == 2 {
		if t[1] != nil {
			return fmt.Errorf("BUILD with slot state on a %s", TypeName(obj))
		}
		state = t[0]
	}
	if state == nil {
		return nil
	}
	sd, ok := state.(*Dict)
	if !ok {
		return fmt.Errorf("BUILD state of a %s is a %s, not a dict", TypeName(obj), TypeName(state))
	}
	switch o := obj.(type) {
	case *Object:
		for i := range sd.keys {
			if err := o.attrs.set(sd.keys[i], sd.values[i]); err != nil {
				return err
			}
		}
		return nil
	case *Dict:
		// OrderedDict state: instance attributes such as _metadata.
		if o.attrs == nil {
			o.attrs = map[string]any{}
		}
		for i, k := range sd.keys {
			ks, ok := k.(string)
			if !ok {
				return fmt.Errorf("BUILD attribute name is a %s", TypeName(k))
			}
			o.attrs[ks] = sd.values[i]
		}
		return nil
	case *TensorRef:
		// Tensor state (e.g. from _rebuild_parameter_with_state): attributes
		// that do not affect the data.
		return nil
	}
	return fmt.Errorf("BUILD on a %s is not supported", TypeName(obj))
}
