package upgrade

import (
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"unsafe"
)

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
	case reflect.Float32, reflect.Float64:
		f := math.Float64frombits(d.uvarint())
		if v.OverflowFloat(f) {
			return fmt.Errorf("%g overflows a %s", f, ti.t)
		}
		v.SetFloat(f)
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
			nilIfEmpty(v.Index(i))
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
		nilIfEmpty(s.Index(i))
	}
	v.Set(s)
	return d.err
}

// nilIfEmpty makes an empty slice or map that is an element of a list
// nil: the wire keeps nil apart from empty only for struct fields (a nil
// one is left out), and units hold nil lists in arrays (ExecDirs.Paths).
func nilIfEmpty(v reflect.Value) {
	if (v.Kind() == reflect.Slice || v.Kind() == reflect.Map) && v.Len() == 0 {
		v.SetZero()
	}
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
