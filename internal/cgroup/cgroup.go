// Package cgroup gives each service a cgroup of its own under sockd's,
// and writes the limits of systemd.resource-control(5) into it. It uses
// the cgroup v2 hierarchy where the controller is enabled there, and the
// controller's v1 hierarchy otherwise (a hybrid layout, as systemd does
// in hybrid mode). A hierarchy whose cgroup sockd cannot write is left
// out: the directives it would carry are not enforced, and New says so
// once (systemd also goes on when cgroup writes fail).
//
// The service's process joins its cgroups itself, before it execs, by
// writing "0" to each cgroup.procs (spawn.Spec.Cgroups): no child of it
// can be started outside them.
package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Root is where sockd may create cgroups: its own cgroup in each
// hierarchy it can write, under which services get "sockd.<unit>".
type Root struct {
	// v2 is sockd's cgroup in the unified hierarchy, "" if unusable;
	// v2Controllers are the controllers enabled for its children.
	v2            string
	v2Controllers map[string]bool
	// v1 maps a v1 controller to sockd's cgroup in its hierarchy.
	v1 map[string]string
	// Missing lists, for the log, the controllers sockd cannot use.
	Missing []string
}

// controllers sockd writes limits for.
var controllers = []string{"pids", "memory", "cpu", "io"}

// v1Names are the v1 hierarchies of each controller.
var v1Names = map[string]string{"pids": "pids", "memory": "memory", "cpu": "cpu", "io": "blkio"}

var detect = sync.OnceValues(func() (*Root, error) { return Detect("/proc/self/cgroup", "/proc/self/mountinfo") })

// Default returns the Root of this process, detected once.
func Default() (*Root, error) { return detect() }

// Detect finds sockd's cgroups from the given /proc files.
func Detect(cgroupFile, mountinfo string) (*Root, error) {
	own, err := ownCgroups(cgroupFile)
	if err != nil {
		return nil, err
	}
	mounts, err := cgroupMounts(mountinfo)
	if err != nil {
		return nil, err
	}
	r := &Root{v1: map[string]string{}, v2Controllers: map[string]bool{}}
	if m, ok := mounts[""]; ok && writable(filepath.Join(m, own[""])) {
		r.v2 = filepath.Join(m, own[""])
		r.enableV2()
	}
	for _, c := range controllers {
		if r.v2Controllers[c] {
			continue
		}
		name := v1Names[c]
		if m, ok := mounts[name]; ok && writable(filepath.Join(m, own[name])) {
			r.v1[c] = filepath.Join(m, own[name])
			continue
		}
		r.Missing = append(r.Missing, c)
	}
	return r, nil
}

// enableV2 enables the controllers sockd's v2 cgroup offers for its
// children. A cgroup with processes cannot enable them (the no internal
// processes rule) unless it is the root: then v2 gives only tracking.
func (r *Root) enableV2() {
	b, _ := os.ReadFile(filepath.Join(r.v2, "cgroup.controllers"))
	for _, c := range strings.Fields(string(b)) {
		if !contains(controllers, c) {
			continue
		}
		if os.WriteFile(filepath.Join(r.v2, "cgroup.subtree_control"), []byte("+"+c), 0) == nil {
			r.v2Controllers[c] = true
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// writable reports whether sockd can create cgroups in dir.
func writable(dir string) bool {
	probe := filepath.Join(dir, fmt.Sprintf("sockd.probe.%d", os.Getpid()))
	if err := os.Mkdir(probe, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return false
	}
	os.Remove(probe)
	return true
}

// ownCgroups maps each hierarchy's controllers ("" for v2, "pids", "name=systemd", …)
// to this process's cgroup path in it.
func ownCgroups(file string) (map[string]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			m[c] = parts[2]
		}
	}
	return m, nil
}

// cgroupMounts maps each hierarchy's controllers ("" for v2) to its
// mount point, from mountinfo.
func cgroupMounts(file string) (map[string]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := contains2(fields, "-")
		if sep < 0 || sep+3 >= len(fields) || fields[3] != "/" {
			continue // not the root of its hierarchy
		}
		switch fields[sep+1] {
		case "cgroup2":
			m[""] = fields[4]
		case "cgroup":
			for _, opt := range strings.Split(fields[sep+3], ",") {
				if contains(controllers, opt) || opt == "blkio" {
					m[opt] = fields[4]
				}
			}
		}
	}
	return m, sc.Err()
}

func contains2(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
