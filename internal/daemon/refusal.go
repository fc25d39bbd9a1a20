package daemon

import (
	"fmt"
	"sort"
	"strings"
)

// refusal is a reload's error when units are invalid: it names them and
// says why nothing changed (start-up, unlike a reload, skips invalid
// units and runs the others), then lists every problem (path:line: …).
func refusal(invalid map[string][]error, err error) error {
	names := make([]string, 0, len(invalid))
	for name := range invalid {
		names = append(names, name+".socket")
	}
	sort.Strings(names)
	return fmt.Errorf("reload refused, nothing changed: %d unit(s) invalid: %s (a reload applies only when every unit is valid; fix them, or move them away, and reload again):\n%w",
		len(names), strings.Join(names, ", "), err)
}
