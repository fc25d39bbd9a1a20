package tomlfile

import (
	"errors"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestKeyLines(t *testing.T) {
	doc := `# comment [not] a = "table"
top = 1
[socket] # [x]
listen_stream = [
  "a", # "b" ]
  ']',
  { x = "}" },
]
"quoted.key" = 1
'literal' = 2
dotted . key = 3
exec = """
x ""
= \"""
no_key = 1
"""
lit = '''
[not_a_table]
'''
after = """a""""" # quotes: a""
crlf = 1` + "\r\n" + `next = 2
[ service . "environment" ]
A = "x"
[service]
z = 1
[[arr]]
b = 1
[[arr]]
b = 2
`
	want := map[string]int{
		"top":                   2,
		"socket":                3,
		"socket.listen_stream":  4,
		"socket.quoted.key":     9,
		"socket.literal":        10,
		"socket.dotted":         11,
		"socket.dotted.key":     11,
		"socket.exec":           12,
		"socket.lit":            17,
		"socket.after":          20,
		"socket.crlf":           21,
		"socket.next":           22,
		"service":               23,
		"service.environment":   23,
		"service.environment.A": 24,
		"service.z":             26,
		"arr":                   27,
		"arr.b":                 28,
	}
	var top map[string]any
	if _, err := toml.Decode(doc, &top); err != nil {
		t.Fatalf("the test document is not TOML: %v", err)
	}
	got := keyLines(doc)
	for path, line := range want {
		// Quoted parts hold dots; split on the dots of this table only.
		parts := strings.Split(path, ".")
		if path == "socket.quoted.key" {
			parts = []string{"socket", "quoted.key"}
		}
		if g := got[pathKey(parts...)]; g != line {
			t.Errorf("line of %s = %d; want %d", path, g, line)
		}
	}
	for _, bad := range []string{"no_key", "not_a_table", "x"} {
		for k := range got {
			if strings.HasSuffix(k, bad) {
				t.Errorf("found a key %q inside a string or inline table", k)
			}
		}
	}
}

// FuzzKeyLines checks keyLines against the decoder: the decoder records
// where each value starts (for a multi-line string, where it ends), which
// is on the line of its key.
func FuzzKeyLines(f *testing.F) {
	for _, tt := range valueTests {
		f.Add(tt.toml)
	}
	for _, tt := range errorTests {
		f.Add(tt.toml)
	}
	f.Add("a = \"\"\"\nx\n\"\"\"\nb = [\n1,\n]\n[t]\nc = {d = 1}\n")
	f.Fuzz(func(t *testing.T, doc string) {
		var top map[string]toml.Primitive
		md, err := toml.Decode(doc, &top)
		lines := keyLines(doc) // must end, valid TOML or not
		if err != nil {
			return
		}
		for name, p := range top {
			checkLine(t, &md, p, lines, name)
			var sub map[string]toml.Primitive
			if md.PrimitiveDecode(p, &sub) != nil || isInline(doc, &md, p) {
				continue // keyLines does not list the keys of inline tables
			}
			for key, q := range sub {
				checkLine(t, &md, q, lines, name, key)
			}
		}
	})
}

// isInline reports whether p is an inline table: the decoder places it at
// its "{" or just after.
func isInline(doc string, md *toml.MetaData, p toml.Primitive) bool {
	var pe toml.ParseError
	if !errors.As(md.PrimitiveDecode(p, new(probe)), &pe) || pe.Position.Line == 0 {
		return false
	}
	at := pe.Position.Start
	return at < len(doc) && doc[at] == '{' || at > 0 && at <= len(doc) && doc[at-1] == '{'
}

// probe is a value that cannot be decoded, for the position in the error.
type probe struct{}

func (*probe) UnmarshalTOML(any) error { return errors.New("probe") }

func checkLine(t *testing.T, md *toml.MetaData, p toml.Primitive, lines map[string]int, path ...string) {
	var pe toml.ParseError
	if !errors.As(md.PrimitiveDecode(p, new(probe)), &pe) || pe.Position.Line == 0 {
		return // an implicit table, which has no position
	}
	got, ok := lines[pathKey(path...)]
	var s string
	isString := md.PrimitiveDecode(p, &s) == nil
	switch {
	case !ok:
		t.Errorf("no line for %q; the decoder says %d", path, pe.Position.Line)
	case isString && got > pe.Position.Line, !isString && got != pe.Position.Line:
		t.Errorf("line of %q = %d; the decoder says %d", path, got, pe.Position.Line)
	}
}
