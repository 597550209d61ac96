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

\builtin unalias vmtemp 2>/dev/null || :
function vmtemp {
    if [[ ${1:-} == use ]]; then
        \builtin shift
        __vmtemp_use "$@"
    else
        __vmtemp_exec "$@"
    fi
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
