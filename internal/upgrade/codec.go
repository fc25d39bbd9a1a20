package upgrade

import (
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"unsafe"
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

// Unmarshal decodes data, which Marshal made, into the value v points to.
func Unmarshal(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errors.New("unmarshal: not a pointer")
	}
	ti, err := infoOf(rv.Type().Elem())
	if err != nil {
		return err
	}
	d := &decoder{b: data, whole: string(data)}
	if len(data) > 0 {
		d.start = unsafe.Pointer(unsafe.SliceData(data))
	}
	n := d.count()
	d.names = make([]string, 0, n)
	for range n {
		d.names = append(d.names, string(d.raw()))
	}
	if d.err != nil {
		return fmt.Errorf("table of names: %w", d.err)
	}
	if err := d.value(rv.Elem(), ti); err != nil {
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
	// whole is the document as one string, and start where its bytes
	// begin: a string field is a substring of whole, not an allocation
	// of its own.
	whole string
	start unsafe.Pointer
	// plans map, by typeInfo.id of a struct type, each name index to
	// the field's position in its fields, or -1 if it has no such field.
	plans [][]int
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

func (d *decoder) value(v reflect.Value, ti *typeInfo) error {
	if ti.marshaler {
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
			return fmt.Errorf("%d overflows a %s", x, ti.t)
		}
		v.SetInt(x)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		x := d.uvarint()
		if v.OverflowUint(x) {
			return fmt.Errorf("%d overflows a %s", x, ti.t)
		}
		v.SetUint(x)
	case reflect.String:
		v.SetString(d.substring(d.raw()))
	case reflect.Slice:
		if ti.wire == kindBytes {
			v.SetBytes(append([]byte{}, d.raw()...))
			break
		}
		return d.sliceValue(v, ti)
	case reflect.Array:
		if n := d.count(); n != v.Len() && d.err == nil {
			return fmt.Errorf("%d elements for a %s", n, ti.t)
		}
		for i := range v.Len() {
			if err := d.value(v.Index(i), ti.elem); err != nil {
				return err
			}
		}
	case reflect.Map:
		return d.mapValue(v, ti)
	case reflect.Pointer:
		if d.present() {
			p := reflect.New(ti.t.Elem())
			if err := d.value(p.Elem(), ti.elem); err != nil {
				return err
			}
			v.Set(p)
		}
	case reflect.Struct:
		return d.structValue(v, ti)
	default:
		return fmt.Errorf("cannot decode a %s", ti.t)
	}
	return d.err
}

// sliceValue reads a list. The count is bounded by the bytes left, not
// by what the elements take in memory: the slice grows as elements are
// decoded, so that a wrong count cannot make it allocate more than the
// elements that are there.
func (d *decoder) sliceValue(v reflect.Value, ti *typeInfo) error {
	n := d.count()
	s := reflect.MakeSlice(ti.t, min(n, 1024), min(n, 1024))
	for i := range n {
		if i == s.Len() {
			grown := reflect.MakeSlice(ti.t, min(2*i, n), min(2*i, n))
			reflect.Copy(grown, s)
			s = grown
		}
		if err := d.value(s.Index(i), ti.elem); err != nil {
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

func (d *decoder) mapValue(v reflect.Value, ti *typeInfo) error {
	n := d.count()
	m := reflect.MakeMapWithSize(ti.t, n)
	for range n {
		k := reflect.New(ti.t.Key()).Elem()
		if err := d.value(k, ti.key); err != nil {
			return err
		}
		e := reflect.New(ti.t.Elem()).Elem()
		if err := d.value(e, ti.elem); err != nil {
			return err
		}
		m.SetMapIndex(k, e)
	}
	v.Set(m)
	return d.err
}

// structValue reads fields until the end mark, by name: unknown ones
// are skipped.
func (d *decoder) structValue(v reflect.Value, ti *typeInfo) error {
	plan := d.plan(ti)
	var base unsafe.Pointer
	if v.CanAddr() {
		base = v.Addr().UnsafePointer()
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
			return fmt.Errorf("%s: name %d of %d", ti.t, k, len(d.names))
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
		f := &ti.fields[i]
		if kind != f.info.wire {
			return fmt.Errorf("%s.%s: written as wire kind %d, this build has %d", ti.t, f.name, kind, f.info.wire)
		}
		var err error
		if f.kind != reflect.Invalid && base != nil {
			err = d.setBasic(unsafe.Add(base, f.offset), f.kind, body)
		} else {
			err = d.field(v.Field(f.index), f, body)
		}
		if err != nil {
			return fmt.Errorf("%s.%s: %w", ti.t, f.name, err)
		}
	}
}

// substring returns b, a part of the document, as a string.
func (d *decoder) substring(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	off := uintptr(unsafe.Pointer(unsafe.SliceData(b))) - uintptr(d.start)
	return d.whole[off : off+uintptr(len(b))]
}

// setBasic decodes body, a field of a basic kind, into the memory at p:
// the decoding of value without reflect, for the fields most records
// are made of.
func (d *decoder) setBasic(p unsafe.Pointer, k reflect.Kind, body []byte) error {
	if k == reflect.String {
		n, m := binary.Uvarint(body)
		if m <= 0 || n != uint64(len(body)-m) {
			return errTruncated
		}
		*(*string)(p) = d.substring(body[m:])
		return nil
	}
	var u uint64
	var m int
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var x int64
		x, m = binary.Varint(body)
		u = uint64(x)
	default:
		u, m = binary.Uvarint(body)
	}
	if m <= 0 || m != len(body) {
		return errTruncated
	}
	switch k {
	case reflect.Bool:
		*(*bool)(p) = u != 0
	case reflect.Int:
		*(*int)(p) = int(int64(u))
	case reflect.Int64:
		*(*int64)(p) = int64(u)
	case reflect.Int32:
		x := int64(u)
		if x != int64(int32(x)) {
			return fmt.Errorf("%d overflows an int32", x)
		}
		*(*int32)(p) = int32(x)
	case reflect.Int16:
		x := int64(u)
		if x != int64(int16(x)) {
			return fmt.Errorf("%d overflows an int16", x)
		}
		*(*int16)(p) = int16(x)
	case reflect.Int8:
		x := int64(u)
		if x != int64(int8(x)) {
			return fmt.Errorf("%d overflows an int8", x)
		}
		*(*int8)(p) = int8(x)
	case reflect.Uint, reflect.Uint64:
		*(*uint64)(p) = u
	case reflect.Uint32:
		if u > 1<<32-1 {
			return fmt.Errorf("%d overflows a uint32", u)
		}
		*(*uint32)(p) = uint32(u)
	case reflect.Uint16:
		if u > 1<<16-1 {
			return fmt.Errorf("%d overflows a uint16", u)
		}
		*(*uint16)(p) = uint16(u)
	case reflect.Uint8:
		if u > 1<<8-1 {
			return fmt.Errorf("%d overflows a uint8", u)
		}
		*(*uint8)(p) = uint8(u)
	}
	return nil
}

// plan maps the document's names to the positions of ti's fields.
func (d *decoder) plan(ti *typeInfo) []int {
	if ti.id < len(d.plans) && d.plans[ti.id] != nil {
		return d.plans[ti.id]
	}
	plan := make([]int, len(d.names))
	for i, n := range d.names {
		plan[i] = -1
		for j := range ti.fields {
			if ti.fields[j].name == n {
				plan[i] = j
				break
			}
		}
	}
	if ti.id >= len(d.plans) {
		d.plans = append(d.plans, make([][]int, ti.id+1-len(d.plans))...)
	}
	d.plans[ti.id] = plan
	return plan
}

// field decodes one field's body into fv; a pointer field is present.
func (d *decoder) field(fv reflect.Value, f *structField, body []byte) error {
	rest := d.b
	d.b = body
	if f.ptr {
		p := reflect.New(f.info.t)
		if err := d.value(p.Elem(), f.info); err != nil {
			return err
		}
		fv.Set(p)
	} else if err := d.value(fv, f.info); err != nil {
		return err
	}
	if len(d.b) > 0 {
		return fmt.Errorf("%d bytes left in the field", len(d.b))
	}
	d.b = rest
	return nil
}
