package sockets_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckTexts runs `sockd --check` on units with mistakes in the new
// [Socket] settings and in a template, and compares what it prints, line
// for line.
func TestCheckTexts(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a.socket": "[Socket]\nListenNetlink=nosuch 1\nListenMessageQueue=/a/b\nTimestamping=ms\n" +
			"SocketProtocol=tcp\nPollLimitBurst=-1\nExecStartPre=/nonexistent/mkdir\n",
		"a.service":   "[Service]\nExecStart=/bin/true\n",
		"b.socket":    "[Socket]\nListenStream=127.0.0.1:7\nListenMessageQueue=/b\nMessageQueueMaxMessages=3\nSocketProtocol=udplite\n",
		"b.service":   "[Service]\nExecStart=/bin/true\n",
		"t@.socket":   "[Socket]\nListenStream=/run/t-%i.sock\nListenUSBFunction=usb\n",
		"t@.service":  "[Service]\nExecStart=/bin/true %i\n",
		"ok@.socket":  "[Socket]\nListenStream=/run/ok-%i.sock\nListenSpecial=/dev/null\nWritable=yes\n",
		"ok@.service": "[Service]\nExecStart=/bin/echo %i\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(bin("sockd"), "--check", "--units", dir).CombinedOutput()
	if code := exitCode(err); code != 1 {
		t.Errorf("exit %d; want 1", code)
	}
	want := []string{
		"ok@test_instance.socket: /run/ok-test_instance.sock (stream), /dev/null (special) -> ok@test_instance.service (a template, verified as this instance)",
		"$D/a.socket:2: [Socket] ListenNetlink: unknown netlink family \"nosuch\"",
		"$D/a.socket:3: [Socket] ListenMessageQueue: message queue name \"/a/b\" is not \"/name\" (one leading slash, 1 to 254 more characters)",
		"$D/a.socket:4: [Socket] Timestamping: invalid value \"ms\", want off, us or ns",
		"$D/a.socket:5: [Socket] SocketProtocol: invalid value \"tcp\", want udplite, sctp or mptcp",
		"$D/a.socket:6: [Socket] PollLimitBurst: -1 out of range 0…2147483647",
		"$D/b.socket:4: [Socket] MessageQueueMaxMessages: MessageQueueMaxMessages= and MessageQueueMessageSize= must be set together",
		"$D/b.socket:2: [Socket] ListenStream: SocketProtocol=udplite needs ListenDatagram= on an IP address, not ListenStream=127.0.0.1:7",
		"$D/b.socket:3: [Socket] ListenMessageQueue: SocketProtocol=udplite needs ListenDatagram= on an IP address, not ListenMessageQueue=/b",
		"$D/t@.socket:3: [Socket] ListenUSBFunction: path \"usb\" is not absolute",
		"sockd: 0 valid unit(s), 3 invalid",
	}
	got := strings.Split(strings.TrimSpace(strings.ReplaceAll(string(out), dir, "$D")), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("sockd --check printed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func exitCode(err error) int {
	if e, ok := err.(*exec.ExitError); ok {
		return e.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
