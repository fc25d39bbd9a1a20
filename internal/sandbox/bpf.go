package sandbox

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Seccomp return actions (seccomp(2)).
const (
	retKillProcess = 0x80000000
	retErrno       = 0x00050000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000

	auditArchX86_64 = 0xc000003e
	x32SyscallBit   = 0x40000000
)

// Action is what a filter does with a system call: allow, log, fail
// with an errno, or kill the process.
type Action uint32

// ActErrno fails the call with e.
func ActErrno(e unix.Errno) Action { return Action(retErrno | uint32(e)&0xffff) }

// The actions without an argument.
const (
	ActAllow Action = retAllow
	ActLog   Action = retLog
	ActKill  Action = retKillProcess
)

// condOp is how a condition tests one argument's low 32 bits.
type condOp uint8

const (
	allSet condOp = iota // arg & Mask == Mask
	anySet               // arg & Mask != 0
	notIn                // arg is none of Values
	equal                // arg == Values[0]
)

// cond is a test of one system call argument.
type cond struct {
	Arg    int
	Op     condOp
	Mask   uint32
	Values []uint32
}

// rule applies Action to system call Nr when every condition holds.
type rule struct {
	Nr     int
	Conds  []cond
	Action Action
}

// filter is one seccomp program: rules in order, then Default; calls of
// another architecture than x86-64 (and of the x32 ABI) get BadArch.
type filter struct {
	Name    string
	Rules   []rule
	Default Action
	BadArch Action
}

// assemble compiles f to classic BPF, a linear program the way
// libseccomp writes one without optimization.
func (f *filter) assemble() ([]unix.SockFilter, error) {
	p := []unix.SockFilter{
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 4),
		jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, auditArchX86_64, 1, 0),
		stmt(unix.BPF_RET|unix.BPF_K, uint32(f.BadArch)),
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 0),
		jump(unix.BPF_JMP|unix.BPF_JGE|unix.BPF_K, x32SyscallBit, 0, 1),
		stmt(unix.BPF_RET|unix.BPF_K, uint32(f.BadArch)),
	}
	for _, r := range f.Rules {
		body, err := r.body()
		if err != nil {
			return nil, fmt.Errorf("seccomp filter %s: %w", f.Name, err)
		}
		// jeq nr: fall into the body, else skip it.
		p = append(p, jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, uint32(r.Nr), 0, uint8(len(body))))
		p = append(p, body...)
	}
	p = append(p, stmt(unix.BPF_RET|unix.BPF_K, uint32(f.Default)))
	if len(p) > 4096 {
		return nil, fmt.Errorf("seccomp filter %s: %d instructions, more than the kernel's 4096", f.Name, len(p))
	}
	return p, nil
}

// body is a rule's code after the system call number matched: the
// conditions, each jumping to the end when it fails, the return, and,
// if arguments were loaded, reloading the number for the next rule.
func (r rule) body() ([]unix.SockFilter, error) {
	var conds [][]unix.SockFilter
	for _, c := range r.Conds {
		code := []unix.SockFilter{stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, uint32(16+8*c.Arg))}
		switch c.Op {
		case allSet:
			code = append(code, stmt(unix.BPF_ALU|unix.BPF_AND|unix.BPF_K, c.Mask),
				jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, c.Mask, 0, failJump))
		case anySet:
			code = append(code, jump(unix.BPF_JMP|unix.BPF_JSET|unix.BPF_K, c.Mask, 0, failJump))
		case equal:
			code = append(code, jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, c.Values[0], 0, failJump))
		case notIn:
			for _, v := range c.Values {
				code = append(code, jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, v, failJump, 0))
			}
		}
		conds = append(conds, code)
	}
	var out []unix.SockFilter
	for _, c := range conds {
		out = append(out, c...)
	}
	out = append(out, stmt(unix.BPF_RET|unix.BPF_K, uint32(r.Action)))
	if len(r.Conds) > 0 {
		out = append(out, stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 0))
	}
	// Resolve the fail jumps: to the reload of the number (the last
	// instruction) when there are conditions.
	for i := range out {
		ins := &out[i]
		if ins.Code&0x07 != unix.BPF_JMP {
			continue
		}
		target := len(out) - 1 // the reload
		off := target - i - 1
		if off > 255 {
			return nil, fmt.Errorf("rule for system call %d is too long", r.Nr)
		}
		if ins.Jt == failJump {
			ins.Jt = uint8(off)
		}
		if ins.Jf == failJump {
			ins.Jf = uint8(off)
		}
	}
	return out, nil
}

// failJump marks a jump to a rule's end until body resolves it.
const failJump = 0xff

func stmt(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }

func jump(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k}
}
