package upgrade

import (
	"encoding"
	"encoding/binary"
	"errors"
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
)

var (
	marshalerType   = reflect.TypeFor[encoding.BinaryMarshaler]()
	unmarshalerType = reflect.TypeFor[encoding.BinaryUnmarshaler]()
)

// isMarshaler reports whether values of t are written by their
// MarshalBinary (time.Time, netip.Addr): types with unexported fields.
func isMarshaler(t reflect.Type) bool {
	if m, ok := marshalerCache.Load(t); ok {
		return m.(bool)
	}
	m := t.Implements(marshalerType) && reflect.PointerTo(t).Implements(unmarshalerType)
	marshalerCache.Store(t, m)
	return m
}

var marshalerCache sync.Map // reflect.Type → bool

// kindOf is how values of t are written.
func kindOf(t reflect.Type) (wireKind, error) {
	if isMarshaler(t) {
		return kindBytes, nil
	}
	switch t.Kind() {
	case reflect.Bool:
		return kindBool, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return kindInt, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return kindUint, nil
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

// structField is one exported field of a struct type.
type structField struct {
	index int
	name  string
	kind  wireKind // of the field; for a pointer, of what it points to
	ptr   bool
}

// fieldsOf returns the exported fields of a struct type (cached).
func fieldsOf(t reflect.Type) ([]structField, error) {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.([]structField), nil
	}
	var fs []structField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem() // present or left out, not a presence byte
		}
		k, err := kindOf(ft)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t, f.Name, err)
		}
		fs = append(fs, structField{index: i, name: f.Name, kind: k, ptr: f.Type.Kind() == reflect.Pointer})
	}
	fieldCache.Store(t, fs)
	return fs, nil
}

var fieldCache sync.Map // reflect.Type → []structField

// Marshal encodes v in the state's encoding.
func Marshal(v any) ([]byte, error) {
	e := &encoder{keys: map[string]int{}}
	if err := e.value(reflect.ValueOf(v)); err != nil {
		return nil, err
	}
	out := binary.AppendUvarint(make([]byte, 0, len(e.b)+16*len(e.names)+8), uint64(len(e.names)))
	for _, n := range e.names {
		out = binary.AppendUvarint(out, uint64(len(n)))
		out = append(out, n...)
	}
	return append(out, e.b...), nil
}

// encoder builds a document's body and its table of names.
type encoder struct {
	b     []byte
	keys  map[string]int
	names []string
}

func (e *encoder) key(name string) int {
	k, ok := e.keys[name]
	if !ok {
		k = len(e.names)
		e.keys[name] = k
		e.names = append(e.names, name)
	}
	return k
}

func (e *encoder) value(v reflect.Value) error {
	t := v.Type()
	if isMarshaler(t) {
		data, err := v.Interface().(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return fmt.Errorf("%s: %w", t, err)
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
	case reflect.String:
		e.b = binary.AppendUvarint(e.b, uint64(v.Len()))
		e.b = append(e.b, v.String()...)
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			e.bytes(v.Bytes())
			return nil
		}
		e.b = binary.AppendUvarint(e.b, uint64(v.Len()))
		for i := range v.Len() {
			if err := e.value(v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		e.b = binary.AppendUvarint(e.b, uint64(v.Len()))
		it := v.MapRange()
		for it.Next() {
			if err := e.value(it.Key()); err != nil {
				return err
			}
			if err := e.value(it.Value()); err != nil {
				return err
			}
		}
	case reflect.Pointer:
		if v.IsNil() {
			e.b = append(e.b, 0)
			return nil
		}
		e.b = append(e.b, 1)
		return e.value(v.Elem())
	case reflect.Struct:
		return e.structValue(v)
	default:
		return fmt.Errorf("cannot encode a %s", t)
	}
	return nil
}

func (e *encoder) bytes(b []byte) {
	e.b = binary.AppendUvarint(e.b, uint64(len(b)))
	e.b = append(e.b, b...)
}

// structValue writes v's fields that are not left out, each with its
// length so that a reader that does not know it can skip it.
func (e *encoder) structValue(v reflect.Value) error {
	fs, err := fieldsOf(v.Type())
	if err != nil {
		return err
	}
	for _, f := range fs {
		fv := v.Field(f.index)
		if leftOut(fv) {
			continue
		}
		if f.ptr {
			fv = fv.Elem() // present: the pointer is not nil
		}
		e.b = binary.AppendUvarint(e.b, uint64(e.key(f.name))+1)
		e.b = append(e.b, byte(f.kind))
		// The length goes before the value: write the value, then move
		// it behind its length.
		start := len(e.b)
		if err := e.value(fv); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		n := len(e.b) - start
		var lb [binary.MaxVarintLen64]byte
		ln := binary.PutUvarint(lb[:], uint64(n))
		e.b = append(e.b, lb[:ln]...)
		copy(e.b[start+ln:], e.b[start:start+n])
		copy(e.b[start:], lb[:ln])
	}
	e.b = append(e.b, 0)
	return nil
}

// leftOut reports whether a struct field is not written: zero, or a nil
// pointer, slice or map. A pointer to zero and an empty slice are
// written.
func leftOut(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return v.IsNil()
	}
	return v.IsZero()
}

// Unmarshal decodes data, which Marshal made, into the value v points to.
func Unmarshal(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errors.New("unmarshal: not a pointer")
	}
	d := &decoder{b: data, plans: map[reflect.Type][]int{}}
	n := d.count()
	d.names = make([]string, 0, n)
	for range n {
		d.names = append(d.names, string(d.raw()))
	}
	if d.err != nil {
		return fmt.Errorf("table of names: %w", d.err)
	}
	if err := d.value(rv.Elem()); err != nil {
		return err
	}
	if len(d.b) > 0 {
		return fmt.Errorf("%d bytes after the value", len(d.b))
	}
	return nil
}

// decoder reads a document; the first error sticks.
type decoder struct {
	b     []byte
	err   error
	names []string
	// plans maps, per struct type, each name index to the field's
	// position in fieldsOf, or -1 if the type has no such field.
	plans map[reflect.Type][]int
}

var errTruncated = errors.New("truncated")

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errTruncated
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errTruncated
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length whose elements take at least one byte each.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		if d.err == nil {
			d.err = errTruncated
		}
		return 0
	}
	return int(n)
}

// raw reads len + bytes, not copied.
func (d *decoder) raw() []byte {
	n := d.count()
	if d.err != nil {
		return nil
	}
	b := d.b[:n:n]
	d.b = d.b[n:]
	return b
}

func (d *decoder) value(v reflect.Value) error {
	t := v.Type()
	if isMarshaler(t) {
		data := d.raw()
		if d.err != nil {
			return d.err
		}
		return v.Addr().Interface().(encoding.BinaryUnmarshaler).UnmarshalBinary(data)
	}
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(d.uvarint() != 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		x := d.varint()
		if v.OverflowInt(x) {
			return fmt.Errorf("%d overflows a %s", x, t)
		}
		v.SetInt(x)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		x := d.uvarint()
		if v.OverflowUint(x) {
			return fmt.Errorf("%d overflows a %s", x, t)
		}
		v.SetUint(x)
	case reflect.String:
		v.SetString(string(d.raw()))
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			v.SetBytes(append([]byte{}, d.raw()...))
			break
		}
		return d.sliceValue(v)
	case reflect.Array:
		if n := d.count(); n != v.Len() && d.err == nil {
			return fmt.Errorf("%d elements for a %s", n, t)
		}
		for i := range v.Len() {
			if err := d.value(v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		return d.mapValue(v)
	case reflect.Pointer:
		if d.present() {
			p := reflect.New(t.Elem())
			if err := d.value(p.Elem()); err != nil {
				return err
			}
			v.Set(p)
		}
	case reflect.Struct:
		return d.structValue(v)
	default:
		return fmt.Errorf("cannot decode a %s", t)
	}
	return d.err
}

// sliceValue reads a list. The count is bounded by the bytes left, not
// by what the elements take in memory: the slice grows as elements are
// decoded, so that a wrong count cannot make it allocate more than the
// elements that are there.
func (d *decoder) sliceValue(v reflect.Value) error {
	n := d.count()
	s := reflect.MakeSlice(v.Type(), min(n, 1024), min(n, 1024))
	for i := range n {
		if i == s.Len() {
			grown := reflect.MakeSlice(v.Type(), min(2*i, n), min(2*i, n))
			reflect.Copy(grown, s)
			s = grown
		}
		if err := d.value(s.Index(i)); err != nil {
			return err
		}
	}
	v.Set(s)
	return d.err
}

// present reads a pointer's presence byte.
func (d *decoder) present() bool {
	if d.err != nil || len(d.b) == 0 {
		d.err = errTruncated
		return false
	}
	p := d.b[0] != 0
	d.b = d.b[1:]
	return p
}

func (d *decoder) mapValue(v reflect.Value) error {
	n := d.count()
	m := reflect.MakeMapWithSize(v.Type(), n)
	for range n {
		k := reflect.New(v.Type().Key()).Elem()
		if err := d.value(k); err != nil {
			return err
		}
		e := reflect.New(v.Type().Elem()).Elem()
		if err := d.value(e); err != nil {
			return err
		}
		m.SetMapIndex(k, e)
	}
	v.Set(m)
	return d.err
}

// structValue reads fields until the end mark, by name: unknown ones
// are skipped.
func (d *decoder) structValue(v reflect.Value) error {
	t := v.Type()
	fs, err := fieldsOf(t)
	if err != nil {
		return err
	}
	plan := d.plans[t]
	if plan == nil {
		plan = d.plan(fs)
		d.plans[t] = plan
	}
	for {
		k := d.uvarint()
		if d.err != nil {
			return d.err
		}
		if k == 0 {
			return nil
		}
		if k > uint64(len(d.names)) {
			return fmt.Errorf("%s: name %d of %d", t, k, len(d.names))
		}
		if len(d.b) == 0 {
			return errTruncated
		}
		kind := wireKind(d.b[0])
		d.b = d.b[1:]
		body := d.raw()
		if d.err != nil {
			return d.err
		}
		i := plan[k-1]
		if i < 0 {
			continue // a field this build does not have
		}
		f := fs[i]
		if kind != f.kind {
			return fmt.Errorf("%s.%s: written as wire kind %d, this build has %d", t, f.name, kind, f.kind)
		}
		if err := d.field(v.Field(f.index), f.ptr, body); err != nil {
			return fmt.Errorf("%s.%s: %w", t, f.name, err)
		}
	}
}

// plan maps the document's names to the positions of fs.
func (d *decoder) plan(fs []structField) []int {
	plan := make([]int, len(d.names))
	for i, n := range d.names {
		plan[i] = -1
		for j, f := range fs {
			if f.name == n {
				plan[i] = j
				break
			}
		}
	}
	return plan
}

// field decodes one field's body into fv; a pointer field (ptr) is
// present.
func (d *decoder) field(fv reflect.Value, ptr bool, body []byte) error {
	rest := d.b
	d.b = body
	if ptr {
		p := reflect.New(fv.Type().Elem())
		if err := d.value(p.Elem()); err != nil {
			return err
		}
		fv.Set(p)
	} else if err := d.value(fv); err != nil {
		return err
	}
	if len(d.b) > 0 {
		return fmt.Errorf("%d bytes left in the field", len(d.b))
	}
	d.b = rest
	return nil
}
