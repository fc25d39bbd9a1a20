package spawn

import (
	"strconv"
	"syscall"
)

// Exit codes of a service that failed before its program ran, as defined
// by systemd.exec(5) "Process Exit Codes" (systemd's exit-status.h). The
// child exits with one of these when a step before the program fails;
// sockd uses the ones it can produce, the rest are here so that
// ExitCodeName names them all.
const (
	ExitChdir                  = 200
	ExitNice                   = 201
	ExitFDs                    = 202
	ExitExec                   = 203
	ExitMemory                 = 204
	ExitLimits                 = 205
	ExitOOMAdjust              = 206
	ExitSignalMask             = 207
	ExitStdin                  = 208
	ExitStdout                 = 209
	ExitChroot                 = 210
	ExitIOPrio                 = 211
	ExitTimerSlack             = 212
	ExitSecureBits             = 213
	ExitSetScheduler           = 214
	ExitCPUAffinity            = 215
	ExitGroup                  = 216
	ExitUser                   = 217
	ExitCapabilities           = 218
	ExitCgroup                 = 219
	ExitSetsid                 = 220
	ExitConfirm                = 221
	ExitStderr                 = 222
	ExitPAM                    = 224
	ExitNetwork                = 225
	ExitNamespace              = 226
	ExitNoNewPrivileges        = 227
	ExitSeccomp                = 228
	ExitSELinuxContext         = 229
	ExitPersonality            = 230
	ExitAppArmorProfile        = 231
	ExitAddressFamilies        = 232
	ExitRuntimeDirectory       = 233
	ExitChown                  = 235
	ExitSmackProcessLabel      = 236
	ExitKeyring                = 237
	ExitStateDirectory         = 238
	ExitCacheDirectory         = 239
	ExitLogsDirectory          = 240
	ExitConfigurationDirectory = 241
	ExitNUMAPolicy             = 242
	ExitCredentials            = 243
	ExitBPF                    = 245
	ExitException              = 255
)

// exitNames are the names systemctl(1) prints after an exit code, from
// systemd's exit-status.c (classes libc and systemd; 231 is "APPARMOR"
// there, not "APPARMOR_PROFILE").
var exitNames = map[int]string{
	0: "SUCCESS", 1: "FAILURE",
	200: "CHDIR", 201: "NICE", 202: "FDS", 203: "EXEC", 204: "MEMORY",
	205: "LIMITS", 206: "OOM_ADJUST", 207: "SIGNAL_MASK", 208: "STDIN",
	209: "STDOUT", 210: "CHROOT", 211: "IOPRIO", 212: "TIMERSLACK",
	213: "SECUREBITS", 214: "SETSCHEDULER", 215: "CPUAFFINITY",
	216: "GROUP", 217: "USER", 218: "CAPABILITIES", 219: "CGROUP",
	220: "SETSID", 221: "CONFIRM", 222: "STDERR", 224: "PAM",
	225: "NETWORK", 226: "NAMESPACE", 227: "NO_NEW_PRIVILEGES",
	228: "SECCOMP", 229: "SELINUX_CONTEXT", 230: "PERSONALITY",
	231: "APPARMOR", 232: "ADDRESS_FAMILIES", 233: "RUNTIME_DIRECTORY",
	235: "CHOWN", 236: "SMACK_PROCESS_LABEL", 237: "KEYRING",
	238: "STATE_DIRECTORY", 239: "CACHE_DIRECTORY", 240: "LOGS_DIRECTORY",
	241: "CONFIGURATION_DIRECTORY", 242: "NUMA_POLICY", 243: "CREDENTIALS",
	245: "BPF", 255: "EXCEPTION",
}

// ExitCodeName formats an exit code for status display as systemctl(1)
// does: "203/EXEC", "1/FAILURE", or just "42" for a code without a name.
func ExitCodeName(code int) string {
	if name, ok := exitNames[code]; ok {
		return strconv.Itoa(code) + "/" + name
	}
	return strconv.Itoa(code)
}

// ExecError says why the service's program could not be started: the
// step that failed, as a systemd exit code (Code, e.g. ExitExec or
// ExitUser), and what went wrong. The process exits with Code.
type ExecError struct {
	Code  int
	Errno syscall.Errno // 0 when the failure was not a system call's
	Msg   string        // e.g. "execve /usr/bin/x: no such file or directory"
}

// Error returns "203/EXEC: execve /usr/bin/x: no such file or directory".
func (e *ExecError) Error() string { return ExitCodeName(e.Code) + ": " + e.Msg }

// Unwrap returns the errno, so that errors.Is(err, fs.ErrNotExist) works.
func (e *ExecError) Unwrap() error {
	if e.Errno == 0 {
		return nil
	}
	return e.Errno
}
