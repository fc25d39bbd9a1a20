package spawn

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"github.com/sockd/sockd/units"
)

// shimSpec is what the shim does before exec, decoded from shimEnv.
type shimSpec struct {
	nfds    int // fds passed as 3 … 3+nfds-1
	status  int // the status pipe's write end
	stdio   [3]Stdio
	umask   int
	nofile  *units.Rlimit
	nnp     bool
	user    string
	group   string
	groups  []string
	dir     string
	dirOpt  bool
	attrs   *Attrs
	pidEnv  []string
	cgroups []string
}

// encodeShimSpec encodes the parts of s the shim needs as a URL query:
// it survives any byte but NUL, which environment strings cannot hold.
func encodeShimSpec(s *Spec, statusFD int) string {
	v := url.Values{}
	v.Set("n", strconv.Itoa(len(s.Files)))
	v.Set("s", strconv.Itoa(statusFD))
	for i, st := range [3]Stdio{s.Stdin, s.Stdout, s.Stderr} {
		if st.Kind >= StdioInherit && st.Kind != StdioFD && st.Kind != StdioLog {
			v.Set("k"+strconv.Itoa(i), strconv.Itoa(int(st.Kind)))
			v.Set("p"+strconv.Itoa(i), st.Path)
		}
	}
	umask := DefaultUMask
	if s.UMask != nil {
		umask = *s.UMask
	}
	v.Set("u", strconv.FormatUint(uint64(umask.Perm()), 8))
	if l := s.LimitNOFILE; l != nil {
		v.Set("nofile", strconv.FormatUint(l.Soft, 10)+":"+strconv.FormatUint(l.Hard, 10))
	}
	if s.NoNewPrivileges {
		v.Set("nnp", "1")
	}
	setIf(v, "user", s.User)
	setIf(v, "group", s.Group)
	v["groups"] = s.SupplementaryGroups
	setIf(v, "dir", s.Dir)
	if s.DirOptional {
		v.Set("diropt", "1")
	}
	if s.Attrs != nil {
		v.Set("attrs", s.Attrs.encode())
	}
	v["pidenv"] = s.PidEnv
	v["cgroups"] = s.Cgroups
	return v.Encode()
}

func setIf(v url.Values, k, s string) {
	if s != "" {
		v.Set(k, s)
	}
}

func decodeShimSpec(enc string) (*shimSpec, error) {
	v, err := url.ParseQuery(enc)
	if err != nil {
		return nil, err
	}
	sp := &shimSpec{
		user: v.Get("user"), group: v.Get("group"), groups: v["groups"],
		dir: v.Get("dir"), dirOpt: v.Get("diropt") == "1", nnp: v.Get("nnp") == "1",
	}
	if sp.nfds, err = strconv.Atoi(v.Get("n")); err != nil {
		return nil, err
	}
	if sp.status, err = strconv.Atoi(v.Get("s")); err != nil {
		return nil, err
	}
	umask, err := strconv.ParseUint(v.Get("u"), 8, 32)
	if err != nil {
		return nil, err
	}
	sp.umask = int(umask)
	for i := range sp.stdio {
		if k := v.Get("k" + strconv.Itoa(i)); k != "" {
			kind, err := strconv.Atoi(k)
			if err != nil {
				return nil, err
			}
			sp.stdio[i] = Stdio{Kind: StdioKind(kind), Path: v.Get("p" + strconv.Itoa(i))}
		}
	}
	if nf := v.Get("nofile"); nf != "" {
		soft, hard, _ := strings.Cut(nf, ":")
		var l units.Rlimit
		if l.Soft, err = strconv.ParseUint(soft, 10, 64); err != nil {
			return nil, err
		}
		if l.Hard, err = strconv.ParseUint(hard, 10, 64); err != nil {
			return nil, err
		}
		sp.nofile = &l
	}
	sp.pidEnv, sp.cgroups = v["pidenv"], v["cgroups"]
	if a := v.Get("attrs"); a != "" {
		if sp.attrs, err = decodeAttrs(a); err != nil {
			return nil, err
		}
	}
	return sp, nil
}

// parseExecStatus decodes the shim's failure report "CODE ERRNO MESSAGE".
func parseExecStatus(b []byte) error {
	fields := strings.SplitN(string(b), " ", 3)
	if len(fields) != 3 {
		return fmt.Errorf("spawn: malformed exec status %q", b)
	}
	code, err1 := strconv.Atoi(fields[0])
	errno, err2 := strconv.Atoi(fields[1])
	if err1 != nil || err2 != nil {
		return fmt.Errorf("spawn: malformed exec status %q", b)
	}
	return &ExecError{Code: code, Errno: syscall.Errno(errno), Msg: fields[2]}
}

// formatExecStatus is the shim's side of parseExecStatus.
func formatExecStatus(code int, errno syscall.Errno, msg string) []byte {
	return []byte(strconv.Itoa(code) + " " + strconv.Itoa(int(errno)) + " " + msg)
}
