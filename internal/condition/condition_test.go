package condition

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/sockd/sockd/units"
)

func cond(name, param string) units.Condition { return units.Condition{Name: name, Param: param} }

// TestChecks evaluates each check against facts the test makes or reads
// itself.
func TestChecks(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	empty := filepath.Join(dir, "empty")
	exe := filepath.Join(dir, "exe")
	hidden := filepath.Join(dir, "hiddenonly")
	os.WriteFile(file, []byte("x"), 0o644)
	os.WriteFile(empty, nil, 0o644)
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	os.Mkdir(hidden, 0o755)
	os.WriteFile(filepath.Join(hidden, ".dot"), nil, 0o644)
	os.Symlink(file, filepath.Join(dir, "link"))
	host, _ := os.Hostname()
	cmdline, _ := os.ReadFile("/proc/cmdline")
	firstWord := strings.Fields(string(cmdline))[0]
	key, _, _ := strings.Cut(firstWord, "=")
	os.Setenv("SOCKD_COND_TEST", "v")
	tests := []struct {
		c    units.Condition
		want bool
	}{
		{cond("PathExists", file), true},
		{cond("PathExists", filepath.Join(dir, "nope")), false},
		{cond("PathExistsGlob", filepath.Join(dir, "f*")), true},
		{cond("PathExistsGlob", filepath.Join(dir, "z*")), false},
		{cond("PathIsDirectory", dir), true},
		{cond("PathIsDirectory", file), false},
		{cond("PathIsSymbolicLink", filepath.Join(dir, "link")), true},
		{cond("PathIsSymbolicLink", file), false},
		{cond("PathIsMountPoint", "/proc"), true},
		{cond("PathIsMountPoint", dir), false},
		{cond("PathIsReadWrite", dir), true},
		{cond("DirectoryNotEmpty", dir), true},
		{cond("DirectoryNotEmpty", hidden), false},
		{cond("FileNotEmpty", file), true},
		{cond("FileNotEmpty", empty), false},
		{cond("FileIsExecutable", exe), true},
		{cond("FileIsExecutable", file), false},
		{cond("Host", host), true},
		{cond("Host", host+"-not"), false},
		{cond("KernelCommandLine", key), true},
		{cond("KernelCommandLine", "sockd.no.such.option"), false},
		{cond("KernelVersion", ">=2.6"), true},
		{cond("KernelVersion", "<2.6"), false},
		{cond("Architecture", archNames[runtime.GOARCH]), true},
		{cond("Architecture", "alpha"), false},
		{cond("Environment", "SOCKD_COND_TEST=v"), true},
		{cond("Environment", "SOCKD_COND_TEST=w"), false},
		{cond("Environment", "SOCKD_COND_TEST"), true},
		{cond("User", "0"), os.Getuid() == 0},
		{cond("User", "@system"), os.Getuid() <= 999},
		{cond("Group", "0"), os.Getgid() == 0},
		{cond("Memory", ">=1M"), true},
		{cond("Memory", "<1M"), false},
		{cond("CPUs", ">=1"), true},
		{cond("CPUs", ">100000"), false},
		{cond("Capability", "CAP_CHOWN"), true},
		{cond("Security", "tomoyo"), false},
		{cond("OSRelease", "ID!=no-such-os"), true},
	}
	for _, tt := range tests {
		if got := Check([]units.Condition{tt.c}); got.OK != tt.want {
			t.Errorf("%s: %v; want %v", tt.c, got, tt.want)
		}
		neg := tt.c
		neg.Negate = true
		if got := Check([]units.Condition{neg}); got.OK == tt.want {
			t.Errorf("%s: %v; want %v", neg, got, !tt.want)
		}
	}
}

// TestTriggering: without "|" every condition must hold; with it, one
// of the triggering ones; asserts are reported as such.
func TestTriggering(t *testing.T) {
	yes, no := cond("PathExists", "/"), cond("PathExists", "/no/such/path")
	trig := func(c units.Condition) units.Condition { c.Trigger = true; return c }
	assert := func(c units.Condition) units.Condition { c.Assert = true; return c }
	for _, tt := range []struct {
		list   []units.Condition
		ok     bool
		assert bool
	}{
		{[]units.Condition{yes, yes}, true, false},
		{[]units.Condition{yes, no}, false, false},
		{[]units.Condition{trig(no), trig(yes)}, true, false},
		{[]units.Condition{trig(no), trig(no)}, false, false},
		{[]units.Condition{trig(yes), no}, false, false},
		{[]units.Condition{yes, assert(no)}, false, true},
		{[]units.Condition{no, assert(no)}, false, false}, // conditions first
	} {
		r := Check(tt.list)
		if r.OK != tt.ok || r.Assert != tt.assert {
			t.Errorf("%v: %+v; want ok=%v assert=%v", tt.list, r, tt.ok, tt.assert)
		}
	}
	if r := Check([]units.Condition{no}); r.String() != "ConditionPathExists=/no/such/path was not met" {
		t.Errorf("String() = %q", r.String())
	}
}

func TestVersionCompare(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"6.1.0-18-amd64", "6.1", 1}, {"5.10", "5.9", 1}, {"4.19", "4.19", 0}, {"2.6.32", "3.0", -1},
	} {
		if got := versionCompare(tt.a, tt.b); got != tt.want {
			t.Errorf("versionCompare(%q, %q) = %d; want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
