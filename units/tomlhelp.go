package units

// This file exists for units/tomlfile, which explains keys that are not in
// the directive table the same way the Builder explains directives.

// UnsupportedDirectives returns the systemd directives of a section
// ("Unit", "Socket" or "Service") that sockd refuses as not supported:
// they mean something outside PID 1, but sockd does not implement them.
// The result is a copy.
func UnsupportedDirectives(section string) []string {
	var out []string
	for _, name := range unsupportedDirectives[section] {
		if _, ok := directiveIndex()[Key(section, name)]; !ok {
			out = append(out, name)
		}
	}
	return out
}
