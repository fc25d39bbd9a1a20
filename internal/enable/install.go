package enable

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
)

// install is a unit file's [Install] section (systemd.unit(5)).
type install struct {
	WantedBy, RequiredBy, Also, Alias []string
	DefaultInstance                   string
}

// empty reports whether the section asks for nothing to be done, the
// state systemctl calls "static".
func (in install) empty() bool {
	return len(in.WantedBy)+len(in.RequiredBy)+len(in.Also)+len(in.Alias) == 0 && in.DefaultInstance == ""
}

// readInstall reads the [Install] section of the unit file at path.
// Comments, line continuations and empty assignments (which reset a
// list) follow systemd.syntax(7); specifiers (%i, …) are not expanded.
func readInstall(path string) (install, error) {
	var in install
	data, err := os.ReadFile(path)
	if err != nil {
		return in, err
	}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	lineNo, pending := 0, ""
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		if pending == "" && (line == "" || line[0] == '#' || line[0] == ';') {
			continue
		}
		if cont, ok := strings.CutSuffix(line, "\\"); ok {
			pending += cont + " "
			continue
		}
		line, pending = pending+line, ""
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line[1 : len(line)-1]
			continue
		}
		if section != "Install" {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return in, fmt.Errorf("%s:%d: [Install]: not an assignment: %q", path, lineNo, line)
		}
		in.set(strings.TrimSpace(key), strings.Fields(value))
	}
	return in, sc.Err()
}

// set applies one assignment; unknown keys are ignored, as systemctl
// ignores them (UpheldBy= needs systemd 249's upholds, which sockd has
// not).
func (in *install) set(key string, words []string) {
	var list *[]string
	switch key {
	case "WantedBy":
		list = &in.WantedBy
	case "RequiredBy":
		list = &in.RequiredBy
	case "Also":
		list = &in.Also
	case "Alias":
		list = &in.Alias
	case "DefaultInstance":
		in.DefaultInstance = strings.Join(words, " ")
		return
	default:
		return
	}
	if len(words) == 0 {
		*list = nil
		return
	}
	*list = append(*list, words...)
}
