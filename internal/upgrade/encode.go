package upgrade

import (
	"encoding"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"unsafe"
)

// Marshal encodes v in the state's encoding.
func Marshal(v any) ([]byte, error) { return marshalSized(v, 0) }

// marshalSized is Marshal with room for size bytes from the start.
func marshalSized(v any, size int) ([]byte, error) {
	rv := reflect.ValueOf(v)
	ti, err := infoOf(rv.Type())
	if err != nil {
		return nil, err
	}
	// The table of names goes first, but is known last: the body is
	// written after room for a table of this size, and the table into
	// the end of that room if it fits (it does for the state's records).
	const room = 512
	e := &encoder{b: make([]byte, room, room+size)}
	if err := e.value(rv, ti); err != nil {
		return nil, err
	}
	table := binary.AppendUvarint(make([]byte, 0, 16*len(e.names)+8), uint64(len(e.names)))
	for _, n := range e.names {
		table = binary.AppendUvarint(table, uint64(len(n)))
		table = append(table, n...)
	}
	if len(table) <= room {
		start := room - len(table)
		copy(e.b[start:], table)
		return e.b[start:], nil
	}
	return append(table, e.b[room:]...), nil
}

// encoder builds a document's body and its table of names.
type encoder struct {
	b     []byte
	local []int // by structField.id: the name's index in names, plus 1
	names []string
}

// key returns the index of f's name in the document's table.
func (e *encoder) key(f *structField) int {
	if f.id >= len(e.local) {
		e.local = append(e.local, make([]int, f.id+1-len(e.local))...)
	}
	if e.local[f.id] == 0 {
		e.names = append(e.names, f.name)
		e.local[f.id] = len(e.names)
	}
	return e.local[f.id] - 1
}

func (e *encoder) value(v reflect.Value, ti *typeInfo) error {
	if ti.marshaler {
		data, err := v.Interface().(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return fmt.Errorf("%s: %w", ti.t, err)
		}
		e.bytes(data)
		return nil
	}
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() {
			e.b = append(e.b, 1)
		} else {
			e.b = append(e.b, 0)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.b = binary.AppendVarint(e.b, v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.b = binary.AppendUvarint(e.b, v.Uint())
	case reflect.Float32, reflect.Float64:
		e.b = binary.AppendUvarint(e.b, math.Float64bits(v.Float()))
	case reflect.String:
		e.b = binary.AppendUvarint(e.b, uint64(v.Len()))
		e.b = append(e.b, v.String()...)
	case reflect.Slice, reflect.Array:
		if ti.wire == kindBytes {
			e.bytes(v.Bytes())
			return nil
		}
		e.b = binary.AppendUvarint(e.b, uint64(v.Len()))
		for i := range v.Len() {
			if err := e.value(v.Index(i), ti.elem); err != nil {
				return err
			}
		}
	case reflect.Map:
		e.b = binary.AppendUvarint(e.b, uint64(v.Len()))
		it := v.MapRange()
		for it.Next() {
			if err := e.value(it.Key(), ti.key); err != nil {
				return err
			}
			if err := e.value(it.Value(), ti.elem); err != nil {
				return err
			}
		}
	case reflect.Pointer:
		if v.IsNil() {
			e.b = append(e.b, 0)
			return nil
		}
		e.b = append(e.b, 1)
		return e.value(v.Elem(), ti.elem)
	case reflect.Struct:
		return e.structValue(v, ti)
	default:
		return fmt.Errorf("cannot encode a %s", ti.t)
	}
	return nil
}

func (e *encoder) bytes(b []byte) {
	e.b = binary.AppendUvarint(e.b, uint64(len(b)))
	e.b = append(e.b, b...)
}

// structValue writes v's fields that are not left out, each with its
// length so that a reader that does not know it can skip it.
func (e *encoder) structValue(v reflect.Value, ti *typeInfo) error {
	var base unsafe.Pointer
	if v.CanAddr() {
		base = v.Addr().UnsafePointer()
	}
	for i := range ti.fields {
		f := &ti.fields[i]
		if f.kind != reflect.Invalid && base != nil {
			e.basic(f, unsafe.Add(base, f.offset))
			continue
		}
		fv := v.Field(f.index)
		if leftOut(fv) {
			continue
		}
		if f.ptr {
			fv = fv.Elem() // present: the pointer is not nil
		}
		e.b = binary.AppendUvarint(e.b, uint64(e.key(f))+1)
		e.b = append(e.b, byte(f.info.wire))
		// The length goes before the value: leave room for a one-byte
		// length, write the value, and move it if its length needs more.
		at := len(e.b)
		e.b = append(e.b, 0)
		if err := e.value(fv, f.info); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		n := len(e.b) - at - 1
		if n < 0x80 {
			e.b[at] = byte(n)
			continue
		}
		var lb [binary.MaxVarintLen64]byte
		ln := binary.PutUvarint(lb[:], uint64(n))
		e.b = append(e.b, lb[:ln-1]...)
		copy(e.b[at+ln:], e.b[at+1:at+1+n])
		copy(e.b[at:], lb[:ln])
	}
	e.b = append(e.b, 0)
	return nil
}

// basic writes a field of a basic kind from the memory at p, unless it
// is zero: structValue without reflect.
func (e *encoder) basic(f *structField, p unsafe.Pointer) {
	var u uint64
	var signed bool
	switch f.kind {
	case reflect.String:
		str := *(*string)(p)
		if str == "" {
			return
		}
		e.b = binary.AppendUvarint(e.b, uint64(e.key(f))+1)
		e.b = append(e.b, byte(kindBytes))
		n := len(str) + uvarintLen(uint64(len(str)))
		e.b = binary.AppendUvarint(e.b, uint64(n))
		e.b = binary.AppendUvarint(e.b, uint64(len(str)))
		e.b = append(e.b, str...)
		return
	case reflect.Bool:
		if *(*bool)(p) {
			u = 1
		}
	case reflect.Int:
		u, signed = uint64(*(*int)(p)), true
	case reflect.Int64:
		u, signed = uint64(*(*int64)(p)), true
	case reflect.Int32:
		u, signed = uint64(int64(*(*int32)(p))), true
	case reflect.Int16:
		u, signed = uint64(int64(*(*int16)(p))), true
	case reflect.Int8:
		u, signed = uint64(int64(*(*int8)(p))), true
	case reflect.Uint, reflect.Uint64:
		u = *(*uint64)(p)
	case reflect.Uint32:
		u = uint64(*(*uint32)(p))
	case reflect.Uint16:
		u = uint64(*(*uint16)(p))
	case reflect.Uint8:
		u = uint64(*(*uint8)(p))
	}
	if u == 0 {
		return
	}
	e.b = binary.AppendUvarint(e.b, uint64(e.key(f))+1)
	e.b = append(e.b, byte(f.info.wire))
	at := len(e.b)
	e.b = append(e.b, 0)
	if signed {
		e.b = binary.AppendVarint(e.b, int64(u))
	} else {
		e.b = binary.AppendUvarint(e.b, u)
	}
	e.b[at] = byte(len(e.b) - at - 1) // at most 10 bytes
}

// uvarintLen is the length of x as a uvarint.
func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// leftOut reports whether a struct field is not written: zero, or a nil
// pointer, slice or map. A pointer to zero and an empty slice are
// written.
func leftOut(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return v.IsNil()
	case reflect.String:
		return v.Len() == 0
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Bool:
		return !v.Bool()
	}
	return v.IsZero()
}
