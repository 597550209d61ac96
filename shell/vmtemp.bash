# shellcheck shell=bash
# vmtemp shell integration for bash. Load it from ~/.bashrc with:
#
#     eval "$(vmtemp init bash)"
#
# It defines:
#   vmtemp use NAME   select a temp VM for this shell (sets VMTEMP_NAME)
#   vmtemp use        clear the selection
#   vmtemp ...        everything else runs the vmtemp program
#   vm temp ...       the same as vmtemp ..., defined only when no other `vm`
#                     command, function or alias exists when this is loaded
#   VMTEMP_PROMPT=1   put "(vmtemp:NAME) " in front of the prompt while a temp VM
#                     is selected; or use $(__vmtemp_prompt) in your own PS1
# and tab completion. Nothing here starts Python or Docker except running vmtemp
# itself; the prompt segment and completion are computed in the shell.
# Sourcing it again changes nothing: the prompt hook is registered once.

# The vmtemp program: the path `vmtemp init` ran from, else vmtemp on PATH.
__vmtemp_exec() {
    \builtin local bin='@VMTEMP_BIN@'
    if [[ -n $bin && -x $bin && ! -d $bin ]]; then
        "$bin" "$@"
    else
        \command vmtemp "$@"
    fi
}

__vmtemp_state_home() {
    if [[ -n ${VMTEMP_HOME:-} ]]; then
        REPLY=$VMTEMP_HOME
        [[ $REPLY == \~/* ]] && REPLY=$HOME/${REPLY#\~/}
    elif [[ ${XDG_STATE_HOME:-} == /* ]]; then
        REPLY=$XDG_STATE_HOME/vmtemp
    else
        REPLY=$HOME/.local/state/vmtemp
    fi
    \builtin return 0
}

# vmtemp use [NAME]: the same name rules as vmtemp itself.
__vmtemp_use() {
    \builtin local name re='^[abcdefghijklmnopqrstuvwxyz0123456789][abcdefghijklmnopqrstuvwxyz0123456789_-]{0,39}$'
    \builtin local REPLY='' known='' d
    if (($# == 0)); then
        \builtin unset VMTEMP_NAME
        \builtin printf '%s\n' 'vmtemp: no temp VM selected in this shell now' >&2
        \builtin return 0
    fi
    name=$1
    if (($# > 1)) || [[ $name == -* ]]; then
        \builtin printf '%s\n' 'vmtemp: usage: vmtemp use [NAME]' 'hint: vmtemp use NAME selects a temp VM for this shell; vmtemp use alone clears it' >&2
        \builtin return 2
    fi
    if ! [[ $name =~ $re ]]; then
        \builtin printf "vmtemp: invalid temp VM name '%s'\n" "$name" >&2
        \builtin printf '%s\n' "hint: use 1-40 characters: lowercase letters, digits, '-' and '_', starting with a letter or digit" >&2
        \builtin return 2
    fi
    __vmtemp_state_home
    if [[ ! -d $REPLY/$name ]]; then
        while \builtin read -r d; do
            d=${d##*/}
            [[ $d =~ $re && $d != logs ]] && known+=${known:+, }$d
        done < <(\builtin compgen -d -- "$REPLY/")
        \builtin printf "vmtemp: no temp VM named '%s'%s\n" "$name" "${known:+ (known: $known)}" >&2
        \builtin printf '%s\n' 'hint: vmtemp list' >&2
        \builtin return 2
    fi
    \builtin export VMTEMP_NAME="$name"
    \builtin return 0
}

# vmtemp exec / enter straight to `docker exec`, without starting Python, when the
# call is a plain one: the temp VM is resolved as vmtemp resolves it (-n NAME, else
# $VMTEMP_NAME, else the only one) and its container read from its state.json. Any
# other case (other options, a compose file edited since vmtemp last wrote it, a
# half-done change, another owner's temp VM) goes to the vmtemp program, which also
# explains every failure. VMTEMP_FAST=0 turns this off.
# Returns 1 when it did not handle the call; else 0 with the exit code in __vmtemp_rc.
__vmtemp_fast() {
    \builtin local cmd=$1 name=${VMTEMP_NAME:-} workdir='' REPLY='' dir line container='' owner='' uid='' d only='' n=0
    \builtin local re='^[abcdefghijklmnopqrstuvwxyz0123456789][abcdefghijklmnopqrstuvwxyz0123456789_-]{0,39}$'
    [[ ${VMTEMP_FAST:-1} != 0 ]] || \builtin return 1
    \builtin shift
    while (($#)); do
        case $1 in
            -n|--name) (($# >= 2)) || \builtin return 1; name=$2; \builtin shift 2 ;;
            -w|--workdir) [[ $cmd == exec ]] && (($# >= 2)) || \builtin return 1; workdir=$2; \builtin shift 2 ;;
            --) [[ $cmd == exec ]] || \builtin return 1; \builtin shift; \builtin break ;;
            -*) \builtin return 1 ;;
            *) [[ $cmd == exec ]] || \builtin return 1; \builtin break ;;
        esac
    done
    [[ $cmd != exec || $# -gt 0 ]] || \builtin return 1
    __vmtemp_state_home
    if [[ -z $name ]]; then
        for d in "$REPLY"/*/; do
            d=${d%/}; d=${d##*/}
            [[ $d =~ $re && $d != logs ]] || \builtin continue
            only=$d; n=$((n + 1))
        done
        ((n == 1)) || \builtin return 1
        name=$only
    fi
    [[ $name =~ $re ]] || \builtin return 1
    dir=$REPLY/$name
    [[ -f $dir/state.json && ! -e $dir/pending.json && ! $dir/compose.yaml -nt $dir/state.json ]] || \builtin return 1
    while IFS= \builtin read -r line; do
        case $line in
            *'"container": "'*) line=${line#*'"container": "'}; container=${line%%'"'*} ;;
            *'"owner": "'*) line=${line#*'"owner": "'}; owner=${line%%'"'*} ;;
            *'"owner_uid": '*) line=${line#*'"owner_uid": '}; uid=${line%%[,\}]*} ;;
        esac
    done <"$dir/state.json"
    [[ $container == "vmtemp-$name" && ( -z $owner || $owner == "${USER:-}" || $uid == "$EUID" ) ]] || \builtin return 1
    \builtin local -a opts
    opts=(-i)
    if [[ -t 0 && -t 1 ]]; then opts+=(-t); fi
    if [[ $cmd != exec ]]; then
        # start where the current folder is mounted, if it is (the longest source wins)
        \builtin local here target source best=0
        here=$(\builtin pwd -P)
        if [[ -f $dir/mounts.list ]]; then
            while IFS=$'\t' \builtin read -r target source _; do
                if [[ $here == "$source" || $here == "$source"/* ]] && ((${#source} > best)); then
                    best=${#source}; workdir=$target${here#"$source"}
                fi
            done <"$dir/mounts.list"
        fi
        \builtin set -- sh -c 'if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi'
    fi
    if [[ -n $workdir ]]; then opts+=(-w "$workdir"); fi
    __vmtemp_rc=0
    \command "${VMTEMP_DOCKER:-docker}" exec "${opts[@]}" "$container" "$@" || __vmtemp_rc=$?
    case $__vmtemp_rc in
        1|125|126|127)
            if [[ $(\command "${VMTEMP_DOCKER:-docker}" container inspect -f '{{.State.Status}}' "$container" 2>/dev/null || \builtin true) != running ]]; then
                \builtin printf "vmtemp: temp VM '%s' is not running\nhint: vmtemp start -n %s\n" "$name" "$name" >&2
            fi ;;
    esac
    \builtin return 0
}

\builtin unalias vmtemp 2>/dev/null || :
function vmtemp {
    case ${1:-} in
        use)
            \builtin shift
            __vmtemp_use "$@" ;;
        exec|enter|ssh|shell)
            if __vmtemp_fast "$@"; then
                \builtin return "$__vmtemp_rc"
            fi
            __vmtemp_exec "$@" ;;
        *)
            __vmtemp_exec "$@" ;;
    esac
}

# The prompt segment: "(vmtemp:NAME) " while a temp VM is selected, with a "?" when
# its folder is gone (sets REPLY; computed in the shell, no process started).
__vmtemp_segment() {
    REPLY=''
    [[ -n ${VMTEMP_NAME:-} ]] || \builtin return 0
    \builtin local name="$VMTEMP_NAME"
    __vmtemp_state_home
    if [[ -d $REPLY/$name ]]; then
        REPLY="(vmtemp:$name) "
    else
        REPLY="(vmtemp:$name?) "
    fi
    \builtin return 0
}

# For your own PS1: PS1='$(__vmtemp_prompt)\u@\h:\w\$ '
__vmtemp_prompt() {
    \builtin local REPLY
    __vmtemp_segment
    \builtin printf '%s' "$REPLY"
}

# With VMTEMP_PROMPT=1, keep the segment in front of PS1 (after other prompt
# hooks have set it); the exit status of the last command is kept.
__vmtemp_hook() {
    \builtin local status="$?" REPLY
    if [[ -n ${__vmtemp_ps1_segment:-} && ${PS1:-} == "$__vmtemp_ps1_segment"* ]]; then
        PS1=${PS1#"$__vmtemp_ps1_segment"}
    fi
    __vmtemp_ps1_segment=''
    if [[ ${VMTEMP_PROMPT:-} == 1 ]]; then
        __vmtemp_segment
        __vmtemp_ps1_segment=$REPLY
        PS1=$REPLY${PS1:-}
    fi
    \builtin return "$status"
}

if [[ ${PROMPT_COMMAND:-} != *__vmtemp_hook* ]]; then
    PROMPT_COMMAND="${PROMPT_COMMAND:+${PROMPT_COMMAND}
}__vmtemp_hook"
fi

# `vm temp ...`: only when `vm` is free (or already ours).
if ! \builtin type vm >/dev/null 2>&1 || [[ ${__vmtemp_owns_vm:-} == 1 ]]; then
    __vmtemp_owns_vm=1
    function vm {
        if [[ ${1:-} == temp ]]; then
            \builtin shift
            vmtemp "$@"
        else
            \builtin printf '%s\n' 'vm: only "vm temp ..." is defined here (by vmtemp); it runs "vmtemp ..."' >&2
            \builtin return 2
        fi
    }
    \builtin complete -F __vmtemp_complete vm
fi
