package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/sockd/sockd/internal/control"
)

// edit writes a drop-in for a unit as systemctl edit does: it opens
// NAME.socket.d/override.conf (or NAME.service.d/…), next to the unit's
// file, in $SYSTEMD_EDITOR, $EDITOR or $VISUAL (else editor, nano, vi),
// checks the unit with the edited drop-in by running sockd --check on a
// copy of its files, and only then saves it and reloads sockd. A TOML
// unit has no drop-ins.
func (c *cli) edit() int {
	name := c.o.args[0]
	u, err := c.client.Unit(c.ctx, name)
	if err != nil {
		return c.fail(err)
	}
	if len(u.Files) == 0 || strings.HasSuffix(u.Files[0], ".toml") {
		return c.fail(fmt.Errorf("%s: a TOML unit has no drop-ins; edit %s and run sockctl reload", u.Name, first(u.Files)))
	}
	target := filepath.Join(filepath.Dir(u.Files[0]), u.Name+".d", "override.conf")
	old, err := os.ReadFile(target)
	if err != nil && !os.IsNotExist(err) {
		return c.fail(err)
	}
	tmp, err := os.MkdirTemp("", "sockctl-edit-")
	if err != nil {
		return c.fail(err)
	}
	defer os.RemoveAll(tmp)
	draft := filepath.Join(tmp, "override.conf")
	if len(old) == 0 {
		section := map[string]string{"socket": "[Socket]", "service": "[Service]"}[u.Kind]
		old = []byte("# Drop-in for " + u.Name + ": the settings here override " + u.Files[0] + ".\n" + section + "\n")
	}
	if err := os.WriteFile(draft, old, 0o644); err != nil {
		return c.fail(err)
	}
	if err := runEditor(draft); err != nil {
		return c.fail(fmt.Errorf("editor: %w", err))
	}
	edited, err := os.ReadFile(draft)
	if err != nil {
		return c.fail(err)
	}
	if bytes.Equal(edited, old) {
		fmt.Fprintln(c.stderr, "sockctl: no change, nothing saved")
		return exitOK
	}
	if out, err := c.checkWith(u, tmp, edited); err != nil {
		fmt.Fprintf(c.stderr, "sockctl: the edited drop-in makes %s invalid; nothing saved:\n%s", u.Name, out)
		return exitFailure
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return c.fail(err)
	}
	if err := os.WriteFile(target, edited, 0o644); err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stderr, "sockctl: saved %s\n", target)
	if err := c.client.Reload(c.ctx); err != nil {
		return c.fail(err)
	}
	return exitOK
}

// checkWith runs sockd --check on a copy of u's files (socket and
// service, with their drop-ins) in dir/units, the edited drop-in in
// place of the old one.
func (c *cli) checkWith(u control.Unit, dir string, dropIn []byte) (string, error) {
	units := filepath.Join(dir, "units")
	var files []string
	for _, n := range []string{u.Socket, u.Service} {
		fs, err := c.client.Files(c.ctx, n)
		if err != nil {
			return err.Error() + "\n", err
		}
		for _, f := range fs {
			files = append(files, f.Path)
			if err := writeUnder(units, f.Path, []byte(f.Content)); err != nil {
				return err.Error() + "\n", err
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(units, u.Name+".d"), 0o755); err != nil {
		return err.Error() + "\n", err
	}
	if err := os.WriteFile(filepath.Join(units, u.Name+".d", "override.conf"), dropIn, 0o644); err != nil {
		return err.Error() + "\n", err
	}
	d, err := c.client.Daemon(c.ctx)
	if err != nil {
		return err.Error() + "\n", err
	}
	out, err := exec.CommandContext(c.ctx, d.Binary, "--check", "--units", units).CombinedOutput()
	return strings.ReplaceAll(string(out), units+"/", ""), err
}

// writeUnder copies a unit file into units, keeping a drop-in's
// directory (NAME.socket.d/x.conf).
func writeUnder(units, path string, data []byte) error {
	rel := filepath.Base(path)
	if parent := filepath.Base(filepath.Dir(path)); strings.HasSuffix(parent, ".d") {
		rel = filepath.Join(parent, rel)
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Join(units, rel)), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(units, rel), data, 0o644)
}

// runEditor opens path in the user's editor, which may have arguments
// ("code --wait"), on sockctl's terminal.
func runEditor(path string) error {
	editor := ""
	for _, v := range []string{"SYSTEMD_EDITOR", "EDITOR", "VISUAL"} {
		if editor = os.Getenv(v); editor != "" {
			break
		}
	}
	if editor == "" {
		for _, e := range []string{"editor", "nano", "vim", "vi"} {
			if _, err := exec.LookPath(e); err == nil {
				editor = e
				break
			}
		}
	}
	if editor == "" {
		return fmt.Errorf("no editor: set $EDITOR")
	}
	cmd := exec.Command("/bin/sh", "-c", editor+` "$1"`, "sh", path)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	return cmd.Run()
}
