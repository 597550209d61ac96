# vmtemp shell integration for zsh. Load it from ~/.zshrc (after compinit, for
# tab completion) with:
#
#     eval "$(vmtemp init zsh)"
#
# It defines:
#   vmtemp use NAME   select a temp VM for this shell (sets VMTEMP_NAME)
#   vmtemp use        clear the selection
#   vmtemp ...        everything else runs the vmtemp program
#   vm temp ...       the same as vmtemp ..., defined only when no other `vm`
#                     command, function or alias exists when this is loaded
#   VMTEMP_PROMPT=1   put "(vmtemp:NAME) " in front of the prompt while a temp VM
#                     is selected; or use $(__vmtemp_prompt) in your own PROMPT
# and tab completion. Nothing here starts Python or Docker except running vmtemp
# itself; the prompt segment and completion are computed in the shell.
# Sourcing it again changes nothing: the prompt hook is registered once.

# The vmtemp program: the path `vmtemp init` ran from, else vmtemp on PATH.
function __vmtemp_exec {
    \builtin local bin='@VMTEMP_BIN@'
    if [[ -n $bin && -x $bin && ! -d $bin ]]; then
        "$bin" "$@"
    else
        \command vmtemp "$@"
    fi
}

function __vmtemp_state_home {
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
function __vmtemp_use {
    \builtin emulate -L zsh
    \builtin local name d known='' REPLY=''
    \builtin local re='^[abcdefghijklmnopqrstuvwxyz0123456789][abcdefghijklmnopqrstuvwxyz0123456789_-]{0,39}$'
    if (( $# == 0 )); then
        \builtin unset VMTEMP_NAME
        \builtin print -r -u2 -- 'vmtemp: no temp VM selected in this shell now'
        \builtin return 0
    fi
    name=$1
    if (( $# > 1 )) || [[ $name == -* ]]; then
        \builtin print -r -u2 -- 'vmtemp: usage: vmtemp use [NAME]'
        \builtin print -r -u2 -- 'hint: vmtemp use NAME selects a temp VM for this shell; vmtemp use alone clears it'
        \builtin return 2
    fi
    if ! [[ $name =~ $re ]]; then
        \builtin print -r -u2 -- "vmtemp: invalid temp VM name '$name'"
        \builtin print -r -u2 -- "hint: use 1-40 characters: lowercase letters, digits, '-' and '_', starting with a letter or digit"
        \builtin return 2
    fi
    __vmtemp_state_home
    if [[ ! -d $REPLY/$name ]]; then
        for d in $REPLY/*(N/:t); do
            [[ $d =~ $re && $d != logs ]] && known+=${known:+, }$d
        done
        \builtin print -r -u2 -- "vmtemp: no temp VM named '$name'${known:+ (known: $known)}"
        \builtin print -r -u2 -- 'hint: vmtemp list'
        \builtin return 2
    fi
    \builtin export VMTEMP_NAME="$name"
    \builtin return 0
}

\builtin unalias vmtemp 2>/dev/null || \builtin true
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
function __vmtemp_segment {
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

# For your own prompt: setopt prompt_subst; PROMPT='$(__vmtemp_prompt)%n@%m %~ %# '
function __vmtemp_prompt {
    \builtin local REPLY
    __vmtemp_segment
    \builtin print -rn -- "$REPLY"
}

# With VMTEMP_PROMPT=1, keep the segment in front of PS1 (after other precmd
# hooks have set it).
function __vmtemp_hook {
    \builtin emulate -L zsh
    \builtin local REPLY
    if [[ -n ${__vmtemp_ps1_segment:-} && ${PS1:-} == "$__vmtemp_ps1_segment"* ]]; then
        PS1=${PS1#"$__vmtemp_ps1_segment"}
    fi
    typeset -g __vmtemp_ps1_segment=''
    if [[ ${VMTEMP_PROMPT:-} == 1 ]]; then
        __vmtemp_segment
        __vmtemp_ps1_segment=$REPLY
        PS1=$REPLY${PS1:-}
    fi
    \builtin return 0
}

\builtin typeset -ga precmd_functions
if (( ! ${precmd_functions[(Ie)__vmtemp_hook]} )); then
    precmd_functions+=(__vmtemp_hook)
fi

# `vm temp ...`: only when `vm` is free (or already ours).
if ! \builtin whence vm >/dev/null 2>&1 || [[ ${__vmtemp_owns_vm:-} == 1 ]]; then
    typeset -g __vmtemp_owns_vm=1
    function vm {
        if [[ ${1:-} == temp ]]; then
            \builtin shift
            vmtemp "$@"
        else
            \builtin print -r -u2 -- 'vm: only "vm temp ..." is defined here (by vmtemp); it runs "vmtemp ..."'
            \builtin return 2
        fi
    }
    if (( ${+functions[compdef]} )); then
        compdef _vmtemp vm
    fi
fi
