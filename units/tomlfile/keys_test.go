package tomlfile

import (
	"regexp"
	"testing"

	"github.com/sockd/sockd/units"
)

func TestKeysCoverEveryDirective(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	// A key is unique within its table: [socket] and [service] both have
	// exec_start_pre, for the Exec*= of each section.
	owner := map[string]units.DirectiveInfo{} // section and key → directive
	for _, d := range units.Directives() {
		key := KeyFor(d.Section, d.Name)
		if !valid.MatchString(key) {
			t.Errorf("%s.%s: key %q is not snake_case", d.Section, d.Name, key)
		}
		scope := d.Section + "." + key
		if d.Section == "Unit" {
			scope = key // in both tables
		}
		if other, ok := owner[scope]; ok {
			t.Errorf("key %q names both %s.%s and %s.%s", key, other.Section, other.Name, d.Section, d.Name)
		}
		owner[scope] = d
		tables := []string{"socket", "service"}
		if d.Section == "Socket" {
			tables = tables[:1]
		} else if d.Section == "Service" {
			tables = tables[1:]
		}
		for _, table := range tables {
			if got, ok := Directive(table, key); !ok || got != d {
				t.Errorf("Directive(%q, %q) = %v, %v; want %v", table, key, got, ok, d)
			}
		}
	}
	unitKeys := 0 // [Unit] directives are keys of both tables
	for _, d := range owner {
		if d.Section == "Unit" {
			unitKeys++
		}
	}
	if n := len(Keys("socket")) + len(Keys("service")) - unitKeys; n != len(owner) {
		t.Errorf("the tables have %d keys ([Unit] keys counted once); want %d", n, len(owner))
	}
}

func TestKeySpelling(t *testing.T) {
	for _, tt := range []struct{ section, directive, key string }{
		{"Socket", "ListenStream", "listen_stream"},
		{"Socket", "ListenFIFO", "listen_fifo"},
		{"Socket", "ListenSequentialPacket", "listen_sequential_packet"},
		{"Socket", "FreeBind", "free_bind"},
		{"Socket", "ReusePort", "reuse_port"},
		{"Socket", "ReceiveBuffer", "receive_buffer"},
		{"Socket", "BindIPv6Only", "bind_ipv6_only"},
		{"Socket", "IPTOS", "ip_tos"},
		{"Socket", "IPTTL", "ip_ttl"},
		{"Socket", "KeepAliveTimeSec", "keep_alive_time_sec"},
		{"Socket", "DeferAcceptSec", "defer_accept_sec"},
		{"Socket", "MaxConnectionsPerSource", "max_connections_per_source"},
		{"Socket", "TriggerLimitIntervalSec", "trigger_limit_interval_sec"},
		{"Socket", "FileDescriptorName", "file_descriptor_name"},
		{"Service", "ExecStart", "exec_start"},
		{"Service", "ExecStartPre", "exec_start_pre"},
		{"Service", "RestartSec", "restart_sec"},
		{"Service", "TimeoutStopSec", "timeout_stop_sec"},
		{"Service", "LimitNOFILE", "limit_nofile"},
		{"Service", "SendSIGKILL", "send_sigkill"},
		{"Service", "UMask", "umask"},
		{"Service", "NoNewPrivileges", "no_new_privileges"},
		{"Service", "FileDescriptorStoreMax", "file_descriptor_store_max"},
		{"Service", "GracefulReadySec", "graceful_ready_sec"},
		{"Unit", "Description", "description"},
		{"Unit", "Documentation", "documentation"},
		{"Service", "PrivateTmp", "private_tmp"},
		{"Service", "SystemCallFilter", "system_call_filter"},
		{"Service", "RootDirectory", ""}, // not supported: no key
		{"Socket", "ExecStart", ""},      // wrong section
	} {
		if got := KeyFor(tt.section, tt.directive); got != tt.key {
			t.Errorf("KeyFor(%q, %q) = %q; want %q", tt.section, tt.directive, got, tt.key)
		}
	}
}

func TestSnakeOfOtherDirectives(t *testing.T) {
	for name, want := range map[string]string{
		"TCPCongestion": "tcp_congestion", "PIDFile": "pid_file", "CPUQuota": "cpu_quota",
		"OOMScoreAdjust": "oom_score_adjust", "WantedBy": "wanted_by", "LimitRTPRIO": "limit_rtprio",
	} {
		if got := snake(name); got != want {
			t.Errorf("snake(%q) = %q; want %q", name, got, want)
		}
	}
}

// A directive sockd refuses or ignores must not be spelled like a key it
// takes, or the explanation could never be reached.
func TestOtherKeysDoNotShadowKeys(t *testing.T) {
	for section, keys := range otherKeys() {
		for key, o := range keys {
			for _, table := range []string{"socket", "service"} {
				if d, ok := Directive(table, key); ok && (d.Section == section || section == "Unit") {
					t.Errorf("%s.%s is spelled %q, like %s.%s", o.section, o.name, key, d.Section, d.Name)
				}
			}
		}
	}
}
