package upgrade

import (
	"encoding"
	"fmt"
	"reflect"
	"sync"
)

// The state's encoding: one encoding for everything the state holds,
// keyed by field name, so that two builds whose types differ read each
// other's state as far as their fields agree. A document is a table of
// the field names it uses, then one value:
//
//	document = count, count × (len, name bytes), value
//	value    = a varint (bool, int, uint kinds), len + bytes (string,
//	           []byte, encoding.BinaryMarshaler), count + values (slice,
//	           array), count + key/value pairs (map), or a struct:
//	struct   = fields, 0; field = name index + 1, kind, len, value
//
// A struct field that is zero, a nil pointer, a nil slice or a nil map
// is left out; a pointer to zero and an empty slice are written, so
// that nil and empty stay apart. A field the reader does not know is
// skipped (its length is written); a field the reader lacks stays zero;
// a field whose kind differs between the two builds is an error naming
// it. Only exported fields are encoded.

// wireKind is the kind of a field on the wire.
type wireKind byte

const (
	kindBool wireKind = iota + 1
	kindInt
	kindUint
	kindBytes // string, []byte, encoding.BinaryMarshaler
	kindList  // slice, array
	kindMap
	kindStruct
	kindPointer // pointer inside a list or a map: a presence byte, then the value
	kindFloat   // float32, float64: the IEEE 754 bits as a uvarint
)

var (
	marshalerType   = reflect.TypeFor[encoding.BinaryMarshaler]()
	unmarshalerType = reflect.TypeFor[encoding.BinaryUnmarshaler]()
)

// typeInfo is what the codec needs of a type, computed once: how its
// values are written and, linked, the same of its elements and fields,
// so that encoding and decoding look nothing up per value.
type typeInfo struct {
	t         reflect.Type
	id        int      // index in the decoder's plans
	marshaler bool     // written by MarshalBinary (time.Time, netip.Addr)
	wire      wireKind // how a struct field of this type is written
	elem, key *typeInfo
	fields    []structField // of a struct
}

// structField is one exported field of a struct type.
type structField struct {
	index int
	name  string
	id    int       // the name's index in the names of every type
	ptr   bool      // a pointer: present or left out, not a presence byte
	info  *typeInfo // of the field's type, or of what it points to
	// offset and kind, for a field of a basic kind (not a pointer), set
	// directly in the struct's memory instead of through reflect.
	offset uintptr
	kind   reflect.Kind
}

// The types seen so far, and the field names, each with an index.
var types = struct {
	sync.Mutex
	byType map[reflect.Type]*typeInfo
	n      int
	names  map[string]int
}{byType: map[reflect.Type]*typeInfo{}, names: map[string]int{}}

// infoOf returns t's typeInfo.
func infoOf(t reflect.Type) (*typeInfo, error) {
	types.Lock()
	defer types.Unlock()
	return infoLocked(t)
}

func infoLocked(t reflect.Type) (*typeInfo, error) {
	if ti, ok := types.byType[t]; ok {
		return ti, nil
	}
	ti := &typeInfo{t: t, id: types.n}
	types.n++
	types.byType[t] = ti // before the elements: a type may contain itself
	ti.marshaler = t.Implements(marshalerType) && reflect.PointerTo(t).Implements(unmarshalerType)
	var err error
	ti.wire, err = wireOf(t, ti.marshaler)
	if err != nil || ti.marshaler {
		return ti, err
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array, reflect.Pointer:
		ti.elem, err = infoLocked(t.Elem())
	case reflect.Map:
		if ti.key, err = infoLocked(t.Key()); err == nil {
			ti.elem, err = infoLocked(t.Elem())
		}
	case reflect.Struct:
		err = ti.structFields()
	}
	return ti, err
}

// structFields fills ti.fields; types is held.
func (ti *typeInfo) structFields() error {
	for i := range ti.t.NumField() {
		f := ti.t.Field(i)
		if !f.IsExported() {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		fi, err := infoLocked(ft)
		if err != nil {
			return fmt.Errorf("%s.%s: %w", ti.t, f.Name, err)
		}
		id, ok := types.names[f.Name]
		if !ok {
			id = len(types.names)
			types.names[f.Name] = id
		}
		sf := structField{index: i, name: f.Name, id: id, ptr: f.Type.Kind() == reflect.Pointer, info: fi, offset: f.Offset}
		if !sf.ptr && !fi.marshaler && basicKind(f.Type.Kind()) {
			sf.kind = f.Type.Kind()
		}
		ti.fields = append(ti.fields, sf)
	}
	return nil
}

// basicKind reports whether fields of kind k are set directly (setBasic).
func basicKind(k reflect.Kind) bool {
	switch k {
	case reflect.Bool, reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// wireOf is how a struct field of type t is written.
func wireOf(t reflect.Type, marshaler bool) (wireKind, error) {
	if marshaler {
		return kindBytes, nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return kindBool, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return kindInt, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return kindUint, nil
	case reflect.Float32, reflect.Float64:
		return kindFloat, nil
	case reflect.String:
		return kindBytes, nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return kindBytes, nil
		}
		return kindList, nil
	case reflect.Array:
		return kindList, nil
	case reflect.Map:
		return kindMap, nil
	case reflect.Struct:
		return kindStruct, nil
	case reflect.Pointer:
		return kindPointer, nil
	}
	return 0, fmt.Errorf("cannot encode a %s", t)
}
