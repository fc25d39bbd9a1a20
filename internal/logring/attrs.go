package logring

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Attr is one attribute of a record: its key (with group prefixes,
// "group.key") and its value as JSON gives it (string, number, bool).
type Attr struct {
	Key   string
	Value any
}

// String formats a as key=value, quoting the value where the text log
// would.
func (a Attr) String() string {
	s := fmt.Sprint(a.Value)
	if _, ok := a.Value.(string); ok && (strings.ContainsAny(s, " \t\n\"=") || s == "") {
		s = fmt.Sprintf("%q", s)
	}
	return a.Key + "=" + s
}

// Attrs are a record's attributes in order. In JSON they are an object
// whose members keep that order: {"reason":"restart requested","pid":42}.
type Attrs []Attr

// MarshalJSON writes the attributes as one JSON object, in order.
func (as Attrs) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, a := range as {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(a.Key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(a.Value)
		if err != nil {
			return nil, fmt.Errorf("logring: attribute %s: %w", a.Key, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads a JSON object into attributes, in its order;
// numbers are json.Number.
func (as *Attrs) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("logring: attributes: want a JSON object")
	}
	*as = nil
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("logring: attributes: %w", err)
		}
		key, _ := t.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("logring: attribute %s: %w", key, err)
		}
		*as = append(*as, Attr{Key: key, Value: v})
	}
	return nil
}

// jsonValue converts a resolved slog value to what encoding/json writes
// for it, as slog's JSONHandler does: numbers and booleans as such,
// durations as text ("1.5s"), errors by their message.
func jsonValue(v slog.Value) any {
	switch v.Kind() {
	case slog.KindInt64:
		return v.Int64()
	case slog.KindUint64:
		return v.Uint64()
	case slog.KindFloat64:
		return v.Float64()
	case slog.KindBool:
		return v.Bool()
	case slog.KindTime:
		return v.Time().Format(time.RFC3339Nano)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return x.Error()
		case json.Marshaler:
			if _, err := x.MarshalJSON(); err == nil {
				return x
			}
		}
	}
	return v.String()
}
