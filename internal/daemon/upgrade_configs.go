package daemon

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"github.com/sockd/sockd/units"
)

// The units' settings in the upgrade state (format 2). Units generated
// from one template differ only in their names, files and listeners: at
// 10,000 units, decoding 10,000 full settings took the new image 25 ms
// of the pause on 2 CPUs. So the settings are sent as prototypes — each
// distinct unit with its name, files and listeners left out, once — and
// per unit its prototype's index and what was left out. The new image
// builds each unit as a copy of its prototype: units built from one
// prototype share its slices, which is safe because a unit's settings
// are never changed in place (a reload replaces them).

// proto is a prototype and what gob would lose of it: gob leaves out
// zero values, so a pointer to zero (Priority=0) would come back nil and
// an empty list non-nil would come back nil, and the reload after the
// upgrade would see the unit changed.
type proto struct {
	Unit units.Unit
	// Zeros are the paths (zeroPaths) of the pointers to zero and the
	// empty non-nil slices in Unit.
	Zeros [][]int
}

// configDelta is one unit's settings as its prototype and what differs.
type configDelta struct {
	Proto       int
	Name        string
	Files       []string
	Listeners   []units.Listener
	ServiceName string
}

// protoOf returns u without what configDelta carries.
func protoOf(u *units.Unit) units.Unit {
	p := *u
	p.Name, p.Files, p.Where = "", nil, nil
	p.Socket.Listeners, p.Service.Name = nil, ""
	return p
}

// configParts encodes the settings of cfgs: the first part holds the
// prototypes, the others the units' deltas, split for decoding on every
// CPU.
func configParts(cfgs []*units.Unit) ([][]byte, error) {
	keys, err := protoKeys(cfgs)
	if err != nil {
		return nil, fmt.Errorf("encoding the units' settings: %w", err)
	}
	index := map[string]int{}
	var protos []proto
	deltas := make([]configDelta, len(cfgs))
	for i, u := range cfgs {
		p, ok := index[keys[i]]
		if !ok {
			p = len(protos)
			index[keys[i]] = p
			pu := protoOf(u)
			protos = append(protos, proto{Unit: pu, Zeros: zeroPaths(reflect.ValueOf(pu), nil, nil)})
		}
		deltas[i] = configDelta{Proto: p, Name: u.Name, Files: u.Files, Listeners: u.Socket.Listeners, ServiceName: u.Service.Name}
	}
	var pb bytes.Buffer
	if err := gob.NewEncoder(&pb).Encode(protos); err != nil {
		return nil, fmt.Errorf("encoding the units' settings: %w", err)
	}
	parts := encodeRecords(deltas, appendDelta)
	return append([][]byte{pb.Bytes()}, parts...), nil
}

// protoKeys returns, for each unit, its prototype's gob encoding and
// the paths of what gob leaves out (as a map key: equal keys, equal
// prototypes), on every CPU.
func protoKeys(cfgs []*units.Unit) ([]string, error) {
	keys := make([]string, len(cfgs))
	errs := make([]error, partsFor(len(cfgs)))
	inParts(len(cfgs), len(errs), func(w, lo, hi int) {
		var buf bytes.Buffer
		enc := gob.NewEncoder(&buf)
		// The first value of a stream carries the type: leave it out
		// of every key.
		if errs[w] = enc.Encode(units.Unit{}); errs[w] != nil {
			return
		}
		for i := lo; i < hi; i++ {
			buf.Reset()
			p := protoOf(cfgs[i])
			if errs[w] = enc.Encode(p); errs[w] != nil {
				return
			}
			// What gob leaves out tells prototypes apart too.
			fmt.Fprint(&buf, zeroPaths(reflect.ValueOf(p), nil, nil))
			keys[i] = buf.String()
		}
	})
	return keys, errors.Join(errs...)
}

// decodeConfigs decodes the parts configParts made.
func decodeConfigs(parts [][]byte) ([]*units.Unit, error) {
	if len(parts) == 0 {
		return nil, nil
	}
	var protos []proto
	protosErr := make(chan error, 1)
	go func() {
		err := gob.NewDecoder(bytes.NewReader(parts[0])).Decode(&protos)
		for i := range protos {
			if err == nil {
				err = setZeros(reflect.ValueOf(&protos[i].Unit).Elem(), protos[i].Zeros)
			}
		}
		protosErr <- err
	}()
	deltas, err := decodeParts(parts[1:], (*decoder).delta)
	if perr := <-protosErr; perr != nil {
		return nil, fmt.Errorf("prototypes: %w", perr)
	}
	if err != nil {
		return nil, err
	}
	var out []*units.Unit
	for _, part := range deltas {
		for _, d := range part {
			if d.Proto < 0 || d.Proto >= len(protos) {
				return nil, fmt.Errorf("unit %s: prototype %d of %d", d.Name, d.Proto, len(protos))
			}
			u := new(units.Unit)
			*u = protos[d.Proto].Unit
			u.Name, u.Files, u.Socket.Listeners, u.Service.Name = d.Name, d.Files, d.Listeners, d.ServiceName
			out = append(out, u)
		}
	}
	return out, nil
}

// zeroPaths appends to out the paths, from v, of the non-nil pointers to
// a zero value and the empty non-nil slices: a step is a field's index,
// or -1-i for element i of a slice.
func zeroPaths(v reflect.Value, path []int, out [][]int) [][]int {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() && v.Elem().IsZero() {
			out = append(out, slices.Clone(path))
		}
	case reflect.Slice:
		if !v.IsNil() && v.Len() == 0 {
			out = append(out, slices.Clone(path))
		}
		for i := range v.Len() {
			out = zeroPaths(v.Index(i), append(path, -1-i), out)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				out = zeroPaths(v.Field(i), append(path, i), out)
			}
		}
	}
	return out
}

// setZeros sets what paths point to in v (addressable) to a pointer to a
// new zero value, or an empty slice.
func setZeros(v reflect.Value, paths [][]int) error {
	for _, path := range paths {
		f := v
		for _, step := range path {
			switch {
			case step >= 0 && f.Kind() == reflect.Struct && step < f.NumField():
				f = f.Field(step)
			case step < 0 && f.Kind() == reflect.Slice && -1-step < f.Len():
				f = f.Index(-1 - step)
			default:
				return fmt.Errorf("prototype: no field at %v", path)
			}
		}
		switch f.Kind() {
		case reflect.Pointer:
			f.Set(reflect.New(f.Type().Elem()))
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 0, 0))
		default:
			return fmt.Errorf("prototype: %v is a %s", path, f.Kind())
		}
	}
	return nil
}
