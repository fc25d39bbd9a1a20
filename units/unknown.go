package units

import (
	"fmt"
	"strings"
)

// IgnoredDirectives lists the directives sockd accepts and ignores because
// they only mean something to PID 1's dependency engine or to
// `systemctl enable`. The docs (docs/units.md) list the same.
var IgnoredDirectives = map[string][]string{
	"Unit": {"After", "AllowIsolate", "Before", "BindsTo", "CollectMode", "Conflicts",
		"DefaultDependencies", "FailureAction", "IgnoreOnIsolate", "JobRunningTimeoutSec",
		"JobTimeoutAction", "JobTimeoutRebootArgument", "JobTimeoutSec", "JoinsNamespaceOf",
		"OnFailure", "OnFailureJobMode", "OnSuccess", "PartOf", "PropagatesReloadTo",
		"RefuseManualStart", "RefuseManualStop", "ReloadPropagatedFrom", "Requires",
		"RequiresMountsFor", "Requisite", "SourcePath", "StopWhenUnneeded", "SuccessAction",
		"SurviveFinalKillSignal", "Upholds", "Wants", "WantsMountsFor"},
	"Install": {"Alias", "Also", "DefaultInstance", "RequiredBy", "UpheldBy", "WantedBy"},
}

// unsupportedDirectives are systemd directives that mean something outside
// PID 1 but that sockd does not implement: using one is an error, never a
// silent no-op.
var unsupportedDirectives = map[string][]string{
	"Unit": {"AssertPathExists", "ConditionPathExists", "ConditionPathIsDirectory",
		"ConditionFileNotEmpty", "ConditionVirtualization", "ConditionHost", "ConditionKernelCommandLine",
		"ConditionSecurity", "ConditionCapability", "ConditionACPower", "ConditionUser", "ConditionGroup",
		"StartLimitIntervalSec", "StartLimitBurst", "StartLimitAction", "RebootArgument"},
	"Socket": {"DeferTrigger", "DeferTriggerMaxSec", "PassFileDescriptorsToExec", "PassPIDFD",
		"AcceptFileDescriptors", "TCPCongestion", "IPAddressAllow", "IPAddressDeny",
		"NetworkNamespacePath", "PrivateNetwork", "User", "Group"},
	"Service": {"PIDFile", "BusName", "RemainAfterExit", "GuessMainPID", "WatchdogSec", "RuntimeMaxSec",
		"SuccessExitStatus", "RestartPreventExitStatus", "RestartForceExitStatus", "RestartSteps",
		"RestartMaxDelaySec", "RestartMode", "Sockets", "NonBlocking",
		"FileDescriptorStorePreserve", "OOMPolicy", "OpenFile", "ReloadSignal", "ExitType", "ExecCondition",
		"ExecStopPost", "TimeoutAbortSec", "TimeoutStartFailureMode", "TimeoutStopFailureMode",
		"RestartKillSignal", "SendSIGHUP", "FinalKillSignal", "WatchdogSignal", "Nice", "OOMScoreAdjust",
		"CPUSchedulingPolicy", "CPUSchedulingPriority", "CPUAffinity", "IOSchedulingClass",
		"IOSchedulingPriority", "RootDirectory", "KeyringMode", "ExecPaths", "NoExecPaths", "RestrictFileSystems",
		"RootImage", "RuntimeDirectory", "StateDirectory", "CacheDirectory",
		"LogsDirectory", "ConfigurationDirectory", "PAMName", "TTYPath", "StandardInputText",
		"StandardInputData", "SyslogIdentifier", "SyslogFacility", "SyslogLevel", "LogLevelMax",
		"PassEnvironment", "UnsetEnvironment", "LimitCPU", "LimitFSIZE", "LimitDATA", "LimitSTACK",
		"LimitCORE", "LimitRSS", "LimitAS", "LimitNPROC", "LimitMEMLOCK", "LimitLOCKS", "LimitSIGPENDING",
		"LimitMSGQUEUE", "LimitNICE", "LimitRTPRIO", "LimitRTTIME", "MemoryMax", "MemoryHigh", "CPUQuota",
		"TasksMax", "Slice", "Delegate", "IPAddressAllow", "IPAddressDeny", "LoadCredential", "SetCredential"},
}

func inList(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// unknownDirective explains a directive missing from sockd's table: nil
// when sockd ignores it on purpose, "not supported" when systemd has it,
// else "unknown" with the nearest known directive.
func unknownDirective(section, name string) error {
	if inList(IgnoredDirectives[section], name) {
		return nil
	}
	if inList(unsupportedDirectives[section], name) {
		return fmt.Errorf("directive not supported by sockd (see sockd.unit(5): man 5 sockd.unit)")
	}
	if _, known := IgnoredDirectives[section]; !known && section != "Socket" && section != "Service" {
		return fmt.Errorf("unknown section [%s]", section)
	}
	names := append([]string(nil), IgnoredDirectives[section]...)
	for _, d := range Directives() {
		if d.Section == section {
			names = append(names, d.Name)
		}
	}
	if s := Suggest(name, names); s != "" {
		return fmt.Errorf("unknown directive; did you mean %s?", s)
	}
	return fmt.Errorf("unknown directive")
}

// Suggest returns the candidate nearest to word by edit distance, ignoring
// case, if it is close enough to be a likely typo; otherwise "".
func Suggest(word string, candidates []string) string {
	best, bestDist := "", len(word)/2+2
	lw := strings.ToLower(word)
	for _, c := range candidates {
		// A short candidate is never close to a long word ("Nice" is
		// not what "Frobnicate" meant).
		if d := editDistance(lw, strings.ToLower(c)); d < bestDist && d < len(c)/2+2 {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
