package sockets_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sockd/sockd/internal/testenv"
)

// TestNetlinkActivation runs sockd in a network namespace of the test's
// own (unshare -n) with ListenNetlink=route 1 (RTMGRP_LINK): adding a
// link there makes the kernel send RTM_NEWLINK, which starts the service,
// and the service finds that message waiting on the netlink socket it was
// given, under its FileDescriptorName=.
func TestNetlinkActivation(t *testing.T) {
	testenv.RequireRoot(t, "creates a network namespace and links in it")
	unshare := testenv.RequireProgram(t, "unshare")
	nsenter := testenv.RequireProgram(t, "nsenter")
	ip := testenv.RequireProgram(t, "ip")
	wrapper := filepath.Join(t.TempDir(), "sockd-netns")
	script := fmt.Sprintf("#!/bin/sh\nexec %s -n %s \"$@\"\n", unshare, bin("sockd"))
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	e := start(t, wrapper, map[string]string{
		"links.socket":  "[Socket]\nListenNetlink=route 1\nFileDescriptorName=rtnl\n",
		"links.service": "[Service]\n" + probe("links") + "\n",
	})
	reports := filepath.Join(e.Work, "reports/links")
	if err := os.MkdirAll(reports, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := e.unit("links.socket").State; got != "listening" {
		t.Fatalf("links.socket is %s; want listening", got)
	}
	out, err := exec.Command(nsenter, "-t", strconv.Itoa(e.Pid()), "-n", ip, "link", "add", "sockdnl0", "type", "veth", "peer", "name", "sockdnl1").CombinedOutput()
	if err != nil {
		t.Fatalf("ip link add in sockd's namespace: %v: %s", err, out)
	}
	r := e.waitReport(reports)
	if r.ListenFDs != "1" || r.ListenFDNames != "rtnl" || len(r.Passed) != 1 {
		t.Fatalf("LISTEN_FDS=%s LISTEN_FDNAMES=%s, %d fds; want 1, rtnl", r.ListenFDs, r.ListenFDNames, len(r.Passed))
	}
	p := r.Passed[0]
	if p.Domain != unix.AF_NETLINK || p.Type != unix.SOCK_RAW || p.Protocol != unix.NETLINK_ROUTE {
		t.Errorf("fd 3: domain %d type %d protocol %d; want AF_NETLINK SOCK_RAW NETLINK_ROUTE", p.Domain, p.Type, p.Protocol)
	}
	if p.NetlinkType != unix.RTM_NEWLINK {
		t.Errorf("the message waiting on fd 3 has type %d; want RTM_NEWLINK (%d)", p.NetlinkType, unix.RTM_NEWLINK)
	}
}
