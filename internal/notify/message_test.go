package notify

import (
	"github.com/sockd/sockd/units"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	m, err := Parse([]byte("READY=1\nSTATUS=Serving 3 clients\nMAINPID=42\nERRNO=2\nEXIT_STATUS=3\n" +
		"FDSTORE=1\nFDNAME=conn-7\nFDPOLL=0\nX_SOCKD_FOO=bar=baz\nnot an assignment\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !m.Ready || m.Stopping || m.Reloading || !m.FDStore || m.FDPoll {
		t.Errorf("flags: %+v", m)
	}
	if m.Status == nil || *m.Status != "Serving 3 clients" {
		t.Errorf("Status %v", m.Status)
	}
	if m.MainPID != 42 || m.Errno == nil || *m.Errno != 2 || m.ExitStatus == nil || *m.ExitStatus != 3 {
		t.Errorf("numbers: %+v", m)
	}
	if m.FDName != "conn-7" {
		t.Errorf("FDName %q", m.FDName)
	}
	if m.Fields["X_SOCKD_FOO"] != "bar=baz" || len(m.Fields) != 9 {
		t.Errorf("Fields %v", m.Fields)
	}
}

func TestParseValues(t *testing.T) {
	tests := []struct {
		in    string
		check func(Message) bool
	}{
		{"READY=0", func(m Message) bool { return !m.Ready }},
		{"READY=1\nREADY=0", func(m Message) bool { return m.Ready }},
		{"RELOADING=1\nMONOTONIC_USEC=123", func(m Message) bool { return m.Reloading && m.MonotonicUsec == 123 }},
		{"STOPPING=1", func(m Message) bool { return m.Stopping }},
		{"BARRIER=1", func(m Message) bool { return m.Barrier }},
		{"STATUS=", func(m Message) bool { return m.Status != nil && *m.Status == "" }},
		{"STATUS=a\nSTATUS=b", func(m Message) bool { return *m.Status == "b" }},
		{"MAINPID=0", func(m Message) bool { return m.MainPID == 0 }},
		{"MAINPID=-5", func(m Message) bool { return m.MainPID == 0 }},
		{"MAINPID=x", func(m Message) bool { return m.MainPID == 0 && m.Fields["MAINPID"] == "x" }},
		{"ERRNO=-1", func(m Message) bool { return m.Errno == nil }},
		{"EXIT_STATUS=256", func(m Message) bool { return m.ExitStatus == nil }},
		{"EXIT_STATUS=0", func(m Message) bool { return m.ExitStatus != nil && *m.ExitStatus == 0 }},
		{"FDSTOREREMOVE=1\nFDNAME=x", func(m Message) bool { return m.FDStoreRemove && m.FDName == "x" }},
		{"FDNAME=a:b", func(m Message) bool { return m.FDName == "" }},
		{"FDNAME=" + strings.Repeat("a", 256), func(m Message) bool { return m.FDName == "" }},
		{"FDNAME=tab\there", func(m Message) bool { return m.FDName == "" }},
		{"FDPOLL=1", func(m Message) bool { return m.FDPoll }},
		{"=x\nA=1", func(m Message) bool { return len(m.Fields) == 1 }},
	}
	for _, tt := range tests {
		m, err := Parse([]byte(tt.in))
		if err != nil || !tt.check(m) {
			t.Errorf("Parse(%q) = %+v, %v", tt.in, m, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for in, want := range map[string]error{
		"":                ErrEmpty,
		"READY=1\x00":     ErrNUL,
		"\x00":            ErrNUL,
		"\n\n":            ErrNoAssignments,
		"garbage":         ErrNoAssignments,
		"=only-a-value\n": ErrNoAssignments,
	} {
		if _, err := Parse([]byte(in)); err != want {
			t.Errorf("Parse(%q): %v, want %v", in, err, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("READY=1\nSTATUS=ok"))
	f.Add([]byte("FDSTORE=1\nFDNAME=state\nFDPOLL=0"))
	f.Add([]byte("MAINPID=42\nERRNO=5\nEXIT_STATUS=3\nMONOTONIC_USEC=1\nRELOADING=1"))
	f.Add([]byte("=\n\n=x\nREADY\nSTATUS=a=b"))
	f.Add([]byte("FDSTOREREMOVE=1\nFDNAME=a:b\nBARRIER=1\nSTOPPING=1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			return
		}
		if len(b) == 0 || len(m.Fields) == 0 {
			t.Fatalf("accepted %q without assignments", b)
		}
		for k, v := range m.Fields {
			if k == "" || strings.ContainsAny(k, "=\n\x00") || strings.ContainsAny(v, "\n\x00") {
				t.Fatalf("bad field %q=%q from %q", k, v, b)
			}
		}
		if m.FDName != "" && !units.ValidFDName(m.FDName) {
			t.Fatalf("invalid FDName %q", m.FDName)
		}
		if m.MainPID < 0 || m.Files != nil || m.PID != 0 {
			t.Fatalf("bad message %+v", m)
		}
	})
}
