package tomlfile

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/sockd/sockd/units"
)

// Load reads the unit in the TOML file at path; the file's name without
// ".toml" is the unit's name. It returns the unit and a units.ErrorList of
// every problem found, each as "path:line: key: reason", or a nil error.
// The unit is returned, with what could be understood, whenever the file
// was read. A unit with no errors still needs units.Validate.
func Load(path string, env units.SpecifierEnv) (*units.Unit, error) {
	stem, err := unitStem(path)
	if err != nil {
		return nil, err
	}
	data, err := units.ReadFile(path)
	if err != nil {
		return nil, err
	}
	l := loader{path: path, stem: stem, b: units.NewBuilder(stem, env)}
	l.b.AddFile(path)
	l.load(string(data))
	u, err := l.b.Finish()
	return u, byLine(err)
}

// byLine sorts the errors of an ErrorList by line, those without a line
// last, so that they read in the order of the file.
func byLine(err error) error {
	list, ok := err.(units.ErrorList)
	if !ok {
		return err
	}
	line := func(err error) int {
		var e *units.Error
		if errors.As(err, &e) && e.Pos.Line > 0 {
			return e.Pos.Line
		}
		return math.MaxInt
	}
	sort.SliceStable(list, func(i, j int) bool { return line(list[i]) < line(list[j]) })
	return list
}

// unitStem returns the unit name that the file at path holds.
func unitStem(path string) (string, error) {
	stem, ok := strings.CutSuffix(filepath.Base(path), ".toml")
	switch {
	case !ok || stem == "":
		return "", fmt.Errorf("%s: a TOML unit file must be named NAME.toml", path)
	case strings.Contains(stem, "@"):
		return "", fmt.Errorf("%s: template socket units (NAME@) are not supported; "+
			"use accept = true in [socket] instead, which makes [service] a template", path)
	}
	if _, err := units.ParseUnitName(stem + ".socket"); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return stem, nil
}

// loader applies one TOML document to a Builder.
type loader struct {
	path, stem string
	b          *units.Builder
	md         toml.MetaData
	lines      map[string]int
}

// load decodes doc and applies [socket], then [service] to the service
// the socket activates.
func (l *loader) load(doc string) {
	var top map[string]any
	md, err := toml.Decode(doc, &top)
	if err != nil {
		l.b.AddError(l.syntaxError(err))
		return
	}
	l.md, l.lines = md, keyLines(doc)
	tables := l.tables(top)
	l.apply("socket", l.stem+".socket", tables["socket"])
	l.apply("service", l.b.Socket().ServiceName(l.stem), tables["service"])
}

// syntaxError reports a document that is not TOML at its line.
func (l *loader) syntaxError(err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		return &units.Error{Pos: units.Position{File: l.path, Line: pe.Position.Line},
			Err: fmt.Errorf("invalid TOML: %s", pe.Message)}
	}
	return &units.Error{Pos: units.Position{File: l.path}, Err: fmt.Errorf("invalid TOML: %w", err)}
}

// tables returns the [socket] and [service] tables of a document and
// reports everything else at its top level.
func (l *loader) tables(top map[string]any) map[string]map[string]any {
	out := make(map[string]map[string]any)
	for _, name := range l.order(nil, top) {
		table, isTable := top[name].(map[string]any)
		_, isTables := top[name].([]map[string]any)
		_, known := tableSections[name]
		switch {
		case known && isTable:
			out[name] = table
		case known:
			l.add(l.pos(name, name), want(fmt.Sprintf("a table [%s]", name), top[name]))
		case isTable || isTables:
			l.add(l.pos("["+name+"]", name), unknownTable(name))
		default:
			l.add(l.pos(name, name), keyOutsideTables(name))
		}
	}
	return out
}

// unknownTable explains a table that is not [socket] or [service].
func unknownTable(name string) error {
	if name == "unit" {
		return errors.New("unknown table; description and documentation are keys of [socket] and [service]")
	}
	if s := units.Suggest(name, []string{"socket", "service"}); s != "" {
		return fmt.Errorf("unknown table; did you mean [%s]?", s)
	}
	return errors.New("unknown table; a unit has a [socket] and a [service] table")
}

// keyOutsideTables explains a key written before any table header.
func keyOutsideTables(key string) error {
	var in []string
	for _, table := range []string{"socket", "service"} {
		if _, ok := keyTables()[table][key]; ok {
			in = append(in, "["+table+"]")
		}
	}
	if len(in) > 0 {
		return fmt.Errorf("outside any table; it belongs in %s", strings.Join(in, " or "))
	}
	return errors.New("unknown key outside any table; a unit has a [socket] and a [service] table")
}

// apply applies the keys of one table, in the order of the file, to the
// unit file unitFile.
func (l *loader) apply(table, unitFile string, keys map[string]any) {
	for _, key := range l.order([]string{table}, keys) {
		pos := l.pos(key, table, key)
		d, ok := keyTables()[table][key]
		if !ok {
			l.add(pos, unknownKey(table, key))
			continue
		}
		values, err := convert(d, keys[key])
		if err != nil {
			l.add(pos, err)
			continue
		}
		for _, v := range values {
			l.b.Apply(unitFile, units.Assignment{Section: d.Section, Directive: d.Name, Value: v, Pos: pos})
		}
	}
}

// order returns the keys of m, the table at path, in the order the file
// first names them.
func (l *loader) order(path []string, m map[string]any) []string {
	seen := make(map[string]bool, len(m))
	var out []string
	for _, k := range l.md.Keys() {
		if len(k) <= len(path) || !slices.Equal(k[:len(path)], path) {
			continue
		}
		if name := k[len(path)]; !seen[name] {
			if _, ok := m[name]; ok {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	var rest []string // none, unless the decoder left a key out of Keys
	for name := range m {
		if !seen[name] {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// pos returns the position of the key at path, named as written: the
// line of the key, or else of the nearest table that holds it.
func (l *loader) pos(written string, path ...string) units.Position {
	p := units.Position{File: l.path, Directive: written}
	for n := len(path); n > 0 && p.Line == 0; n-- {
		p.Line = l.lines[pathKey(path[:n]...)]
	}
	return p
}

func (l *loader) add(pos units.Position, err error) {
	l.b.AddError(&units.Error{Pos: pos, Err: err})
}
