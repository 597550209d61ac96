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
# vmtemp exec / enter straight to `docker exec`, without starting Python, when the
# call is a plain one: the temp VM is resolved as vmtemp resolves it (-n NAME, else
# $VMTEMP_NAME, else the only one) and its container read from its state.json. Any
# other case (other options, a compose file edited since vmtemp last wrote it, a
# half-done change, another owner's temp VM) goes to the vmtemp program, which also
# explains every failure. VMTEMP_FAST=0 turns this off.
# Returns 1 when it did not handle the call; else 0 with the exit code in __vmtemp_rc.
function __vmtemp_fast {
    \builtin emulate -L zsh
    \builtin local cmd=$1 name=${VMTEMP_NAME:-} workdir='' REPLY='' dir line container='' owner='' uid='' d
    \builtin local re='^[abcdefghijklmnopqrstuvwxyz0123456789][abcdefghijklmnopqrstuvwxyz0123456789_-]{0,39}$'
    \builtin local -a found opts
    [[ ${VMTEMP_FAST:-1} != 0 ]] || \builtin return 1
    \builtin shift
    while (( $# )); do
        case $1 in
            (-n|--name) (( $# >= 2 )) || \builtin return 1; name=$2; \builtin shift 2 ;;
            (-w|--workdir) [[ $cmd == exec ]] && (( $# >= 2 )) || \builtin return 1; workdir=$2; \builtin shift 2 ;;
            (--) [[ $cmd == exec ]] || \builtin return 1; \builtin shift; \builtin break ;;
            (-*) \builtin return 1 ;;
            (*) [[ $cmd == exec ]] || \builtin return 1; \builtin break ;;
        esac
    done
    [[ $cmd != exec || $# -gt 0 ]] || \builtin return 1
    __vmtemp_state_home
    if [[ -z $name ]]; then
        for d in $REPLY/*(N/:t); do
            [[ $d =~ $re && $d != logs ]] && found+=($d)
        done
        (( ${#found} == 1 )) || \builtin return 1
        name=$found[1]
    fi
    [[ $name =~ $re ]] || \builtin return 1
    dir=$REPLY/$name
    [[ -f $dir/state.json && ! -e $dir/pending.json && ! $dir/compose.yaml -nt $dir/state.json ]] || \builtin return 1
    while IFS= \builtin read -r line; do
        case $line in
            (*'"container": "'*) line=${line#*'"container": "'}; container=${line%%'"'*} ;;
            (*'"owner": "'*) line=${line#*'"owner": "'}; owner=${line%%'"'*} ;;
            (*'"owner_uid": '*) line=${line#*'"owner_uid": '}; uid=${line%%[,\}]*} ;;
        esac
    done <$dir/state.json
    [[ $container == vmtemp-$name && ( -z $owner || $owner == ${USERNAME:-} || $uid == $EUID ) ]] || \builtin return 1
    opts=(-i)
    [[ -t 0 && -t 1 ]] && opts+=(-t)
    if [[ $cmd != exec ]]; then
        # start where the current folder is mounted, if it is (the longest source wins)
        \builtin local here=${PWD:A} target source rest
        \builtin integer best=0
        if [[ -f $dir/mounts.list ]]; then
            while IFS=$'\t' \builtin read -r target source rest; do
                if [[ $here == $source || $here == $source/* ]] && (( ${#source} > best )); then
                    best=${#source}; workdir=$target${here#$source}
                fi
            done <$dir/mounts.list
        fi
        \builtin set -- sh -c 'if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi'
    fi
    [[ -n $workdir ]] && opts+=(-w $workdir)
    __vmtemp_rc=0
    \command ${VMTEMP_DOCKER:-docker} exec $opts $container "$@" || __vmtemp_rc=$?
    case $__vmtemp_rc in
        (1|125|126|127)
            if [[ $(\command ${VMTEMP_DOCKER:-docker} container inspect -f '{{.State.Status}}' $container 2>/dev/null) != running ]]; then
                \builtin print -r -u2 -- "vmtemp: temp VM '$name' is not running"
                \builtin print -r -u2 -- "hint: vmtemp start -n $name"
            fi ;;
    esac
    \builtin return 0
}

function vmtemp {
    case ${1:-} in
        (use)
            \builtin shift
            __vmtemp_use "$@" ;;
        (exec|enter|ssh|shell)
            if __vmtemp_fast "$@"; then
                \builtin return $__vmtemp_rc
            fi
            __vmtemp_exec "$@" ;;
        (*)
            __vmtemp_exec "$@" ;;
    esac
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
