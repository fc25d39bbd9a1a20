package main

import (
	"fmt"
	"strings"
)

// help prints the usage, or with a verb the lines of the usage that
// describe it.
func (c *cli) help() int {
	if len(c.o.args) == 0 {
		fmt.Fprint(c.stdout, usageText)
		return exitOK
	}
	verb := c.o.args[0]
	if _, ok := verbs[verb]; !ok || strings.HasPrefix(verb, "__") {
		return usageFail(c.stderr, "sockctl help: unknown verb %q", verb)
	}
	text := verbHelp(verb)
	if text == "" {
		text = "  " + verb + "\n" // an alias: list-sockets, daemon-reload
	}
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	synopsis, desc, _ := strings.Cut(strings.TrimSpace(lines[0]), "  ")
	fmt.Fprintf(c.stdout, "Usage: sockctl [--runtime-dir DIR] [--json] %s\n", synopsis)
	var words []string
	for _, l := range append([]string{desc}, lines[1:]...) {
		words = append(words, strings.Fields(l)...)
	}
	if len(words) > 0 {
		fmt.Fprintf(c.stdout, "\n  %s\n", strings.Join(words, " "))
	}
	return exitOK
}

// verbHelp returns the usage's entry for verb: its line and the indented
// lines that continue it.
func verbHelp(verb string) string {
	var b strings.Builder
	in := false
	for _, line := range strings.Split(usageText, "\n") {
		switch {
		case strings.HasPrefix(line, "  "+verb+" ") || line == "  "+verb ||
			(strings.HasPrefix(line, "  ") && strings.Contains(strings.Fields(line)[0], "|") && containsWord(strings.Fields(line)[0], verb)):
			in = true
		case in && strings.HasPrefix(line, "    "):
		default:
			in = false
		}
		if in {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

func containsWord(alts, verb string) bool {
	for _, a := range strings.Split(alts, "|") {
		if a == verb {
			return true
		}
	}
	return false
}
