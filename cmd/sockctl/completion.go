package main

import (
	"fmt"
	"strings"
)

// completionVerbs are the verbs the completion scripts offer, with a
// description for zsh and fish.
var completionVerbs = [][2]string{
	{"list", "list the socket units and their listeners"},
	{"status", "show a unit's state"},
	{"start", "start a service, or reset a failed socket"},
	{"stop", "stop a service"},
	{"restart", "restart a service (--graceful: without downtime)"},
	{"reload", "re-read the unit directories, or run ExecReload= of units"},
	{"upgrade", "re-execute sockd with a new binary"},
	{"is-active", "print whether a unit is active"},
	{"cat", "print a unit's files"},
	{"logs", "print a unit's log (-f: follow it)"},
	{"show", "print a unit's properties as NAME=value"},
	{"is-failed", "print whether a unit failed"},
	{"kill", "send a signal to a unit's processes"},
	{"reset-failed", "clear a unit's failed state"},
	{"help", "print the usage, or one verb's"},
	{"list-dependencies", "print what a unit depends on"},
	{"edit", "write a drop-in for a unit in $EDITOR"},
	{"enable", "enable a systemd unit (links, as systemctl)"},
	{"disable", "disable a systemd unit"},
	{"mask", "mask a systemd unit"},
	{"unmask", "unmask a systemd unit"},
	{"is-enabled", "print a systemd unit's enablement state"},
	{"completion", "print a shell completion script"},
}

// unitVerbs take unit names.
const unitVerbs = "status start stop restart is-active cat logs show is-failed kill reset-failed list-dependencies edit enable disable mask unmask is-enabled"

const flagWords = "--runtime-dir --root --json --all --no-legend --quiet --graceful --help --version --follow --lines --since --signal --property --value"

func verbNames() string {
	var names []string
	for _, v := range completionVerbs {
		names = append(names, v[0])
	}
	return strings.Join(names, " ")
}

// completion prints a completion script; unit names come from the
// running daemon through the hidden verb __complete-units.
func (c *cli) completion() int {
	switch c.o.args[0] {
	case "bash":
		fmt.Fprintf(c.stdout, bashCompletion, verbNames(), strings.ReplaceAll(unitVerbs, " ", "|"), flagWords)
	case "zsh":
		var vs []string
		for _, v := range completionVerbs {
			vs = append(vs, fmt.Sprintf("'%s:%s'", v[0], v[1]))
		}
		fmt.Fprintf(c.stdout, zshCompletion, strings.Join(vs, " "), strings.ReplaceAll(unitVerbs, " ", "|"))
	case "fish":
		fmt.Fprintf(c.stdout, fishHead, verbNames(), unitVerbs)
		for _, v := range completionVerbs {
			fmt.Fprintf(c.stdout, "complete -c sockctl -n \"not __fish_seen_subcommand_from $__sockctl_verbs\" -a %s -d '%s'\n", v[0], v[1])
		}
		fmt.Fprint(c.stdout, fishTail)
	default:
		fmt.Fprintf(c.stderr, "sockctl completion: unknown shell %q (want bash, zsh or fish)\n", c.o.args[0])
		return exitUsage
	}
	return exitOK
}

const bashCompletion = `# bash completion for sockctl: eval "$(sockctl completion bash)"
_sockctl() {
    local cur=${COMP_WORDS[COMP_CWORD]} verb="" rd=() i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            --runtime-dir) rd=(--runtime-dir "${COMP_WORDS[i+1]}"); ((i++)) ;;
            --runtime-dir=*) rd=("${COMP_WORDS[i]}") ;;
            -*) ;;
            *) [[ -z $verb ]] && verb=${COMP_WORDS[i]} ;;
        esac
    done
    if [[ ${COMP_WORDS[COMP_CWORD-1]} == --runtime-dir ]]; then
        COMPREPLY=($(compgen -d -- "$cur"))
        return
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "%[3]s" -- "$cur"))
        return
    fi
    case " $verb " in
        "  ") COMPREPLY=($(compgen -W "%[1]s" -- "$cur")) ;;
        " completion ") COMPREPLY=($(compgen -W "bash zsh fish" -- "$cur")) ;;
        *) ;;
    esac
    case $verb in
        %[2]s)
            COMPREPLY=($(compgen -W "$(sockctl "${rd[@]}" __complete-units 2>/dev/null)" -- "$cur")) ;;
    esac
}
complete -F _sockctl sockctl
`

const zshCompletion = `#compdef sockctl
# zsh completion for sockctl: sockctl completion zsh > "${fpath[1]}/_sockctl"
_sockctl() {
    local -a verbs units rd
    local verb="" i
    verbs=(%s)
    for ((i = 2; i < CURRENT; i++)); do
        case $words[i] in
            --runtime-dir) rd=(--runtime-dir $words[i+1]); ((i++)) ;;
            --runtime-dir=*) rd=($words[i]) ;;
            -*) ;;
            *) [[ -z $verb ]] && verb=$words[i] ;;
        esac
    done
    if [[ $words[CURRENT] == -* ]]; then
        compadd -- --runtime-dir --json --all --no-legend --quiet --graceful --help
        return
    fi
    case $verb in
        "") _describe -t verbs 'sockctl verb' verbs ;;
        %s)
            units=(${(f)"$(sockctl $rd __complete-units 2>/dev/null)"})
            compadd -a units ;;
        completion) compadd bash zsh fish ;;
    esac
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _sockctl "$@"
else
    compdef _sockctl sockctl
fi
`

const fishHead = `# fish completion for sockctl: sockctl completion fish > ~/.config/fish/completions/sockctl.fish
set -l __sockctl_verbs %s
complete -c sockctl -f
complete -c sockctl -l runtime-dir -r -F -d 'sockd runtime directory'
complete -c sockctl -l json -d 'print JSON'
complete -c sockctl -s a -l all -d 'list all units'
complete -c sockctl -l no-legend -d 'no header and footer'
complete -c sockctl -s q -l quiet -d 'print nothing'
complete -c sockctl -n "__fish_seen_subcommand_from restart" -l graceful -d 'start a new instance, then stop the old one'
complete -c sockctl -n "__fish_seen_subcommand_from %s" -a "(sockctl __complete-units 2>/dev/null)"
`

const fishTail = `complete -c sockctl -n "__fish_seen_subcommand_from completion" -a "bash zsh fish"
`
