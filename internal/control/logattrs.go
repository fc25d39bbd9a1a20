package control

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// LogAttr is one attribute of a record: its key (with group prefixes,
// "group.key") and its value as JSON gives it (string, number, bool).
type LogAttr struct {
	Key   string
	Value any
}

// String formats a as key=value, quoting the value where the text log
// would.
func (a LogAttr) String() string {
	s := fmt.Sprint(a.Value)
	if _, ok := a.Value.(string); ok && (strings.ContainsAny(s, " \t\n\"=") || s == "") {
		s = fmt.Sprintf("%q", s)
	}
	return a.Key + "=" + s
}

// LogAttrs are a record's attributes in order. In JSON they are an object
// whose members keep that order: {"reason":"restart requested","pid":42}.
type LogAttrs []LogAttr

// MarshalJSON writes the attributes as one JSON object, in order.
func (as LogAttrs) MarshalJSON() ([]byte, error) {
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
			return nil, fmt.Errorf("log record: attribute %s: %w", a.Key, err)
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
func (as *LogAttrs) UnmarshalJSON(data []byte) error {
	if d := bytes.TrimSpace(data); len(d) > 0 && d[0] == '[' {
		return as.unmarshalPairs(d)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("log record: attributes: want a JSON object")
	}
	*as = nil
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("log record: attributes: %w", err)
		}
		key, _ := t.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("log record: attribute %s: %w", key, err)
		}
		*as = append(*as, LogAttr{Key: key, Value: v})
	}
	return nil
}

// unmarshalPairs reads the form sockd wrote before attributes were JSON
// values: a list of "key=value" strings (a sockctl talking to an older
// sockd, as during an upgrade).
func (as *LogAttrs) unmarshalPairs(data []byte) error {
	var pairs []string
	if err := json.Unmarshal(data, &pairs); err != nil {
		return fmt.Errorf("log record: attributes: %w", err)
	}
	*as = nil
	for _, p := range pairs {
		k, v, _ := strings.Cut(p, "=")
		*as = append(*as, LogAttr{Key: k, Value: v})
	}
	return nil
}
