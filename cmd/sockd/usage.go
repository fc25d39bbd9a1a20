package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// usageHead is what sockd --help prints before the flags.
const usageHead = `Usage: sockd [--units DIR]... [--runtime-dir DIR] [--log-format text|json]
       sockd --check [--units DIR]...
       sockd --systemd-units [--root DIR] [--units DIR]...
       sockd --takeover [--units DIR]... [--runtime-dir DIR]
       sockd --version

sockd binds the listeners of every unit in its unit directories, starts
each unit's service on the first connection and hands it the listening
sockets (sd_listen_fds(3)). sockctl controls it.

Options:
`

// printUsage prints the usage with GNU-style --flags, leaving out the
// internal ones.
func printUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, usageHead)
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, "internal:") {
			return
		}
		name, usage := flag.UnquoteUsage(f)
		arg := "--" + f.Name
		if name != "" {
			arg += " " + strings.ToUpper(name)
		}
		fmt.Fprintf(w, "  %s\n      %s", arg, usage)
		if f.DefValue != "" && f.DefValue != "false" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
	fmt.Fprintln(w, "\nSee sockd(8).")
}

// flagError rewrites the flag package's message for an unknown or bad
// flag to name the flag as the user typed it (--name).
func flagError(err error) string {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return "unknown flag --" + strings.TrimLeft(rest, "-")
	}
	return strings.Replace(msg, " -", " --", 1)
}

// unitDirsMissing returns the unit directories given with --units that
// do not exist; when none was given, every default one if none exists.
func unitDirsMissing(o options) []string {
	var missing []string
	for _, d := range o.unitDirs {
		if _, err := os.Stat(d); err != nil {
			missing = append(missing, d)
		}
	}
	if !o.explicitUnits && len(missing) < len(o.unitDirs) {
		return nil // a default directory exists
	}
	return missing
}
