# shellcheck shell=bash
# bash completion for vmtemp. Printed by `vmtemp completion bash` (and included in
# `vmtemp init bash`); can also be dropped into a bash-completion folder.
#
# No TAB starts Python or asks Docker: temp VM names are a listing of the state
# folder, mounts come from <state>/<name>/mounts.list (target<TAB>source<TAB>mode),
# paths from bash's own compgen, templates from two folder listings.
# Bash splits words at ':' and '=' (COMP_WORDBREAKS): the words of the line are
# joined back here, and each candidate is cut to the part readline replaces.

__vmtemp_commands='create enter ssh shell exec list ls status mounts mount unmount umount protect unprotect start stop restart logs destroy snapshot gc doctor templates suggest history audit compose-file migrate export import init completion use'
__vmtemp_global_opts='--help --version --debug'

# Command table, the same in completions/_vmtemp: per command, its options
# (OPT=KIND for one that takes a value; KIND says how to complete it) and the kind
# of its arguments. tests/test_shell.py holds it against the argparse parser.
# BEGIN vmtemp command table
__vmtemp_table() {
    case $1 in
    create) __vmtemp_o='-n=name --name=name --image= --template=template --mount=mountspec --ro-default --no-smart-ro --allow-sensitive --enter --auto-destroy --dry-run --quick' __vmtemp_a=mount ;;
    enter|ssh|shell) __vmtemp_o='-n=name --name=name -w= --workdir= -u= --user= --force' __vmtemp_a=none ;;
    exec) __vmtemp_o='-n=name --name=name -w= --workdir= -u= --user= --force' __vmtemp_a=none ;;
    list|ls) __vmtemp_o='--json --all-users' __vmtemp_a=none ;;
    status) __vmtemp_o='-n=name --name=name --json' __vmtemp_a=none ;;
    mounts) __vmtemp_o='-n=name --name=name --json' __vmtemp_a=none ;;
    mount) __vmtemp_o='-n=name --name=name --mount=mountspec -y --yes --quick --force --dry-run --allow-sensitive --no-smart-ro' __vmtemp_a=mount ;;
    unmount|umount) __vmtemp_o='-n=name --name=name --all -y --yes --quick --force --dry-run' __vmtemp_a=mounted ;;
    protect) __vmtemp_o='-n=name --name=name -y --yes --quick --force --dry-run' __vmtemp_a=mounted-rw ;;
    unprotect) __vmtemp_o='-n=name --name=name -y --yes --quick --force --dry-run' __vmtemp_a=mounted-ro ;;
    start|stop|restart) __vmtemp_o='-n=name --name=name' __vmtemp_a=none ;;
    logs) __vmtemp_o='-n=name --name=name -f --follow' __vmtemp_a=none ;;
    destroy) __vmtemp_o='--all -y --yes --force --quick --keep-volumes --snapshots --dry-run' __vmtemp_a=name ;;
    snapshot) __vmtemp_o='' __vmtemp_a=snapshot ;;
    snapshot/save) __vmtemp_o='-n=name --name=name' __vmtemp_a=none ;;
    snapshot/list) __vmtemp_o='-n=name --name=name --json' __vmtemp_a=none ;;
    snapshot/restore) __vmtemp_o='-n=name --name=name -y --yes' __vmtemp_a=none ;;
    snapshot/rm) __vmtemp_o='-n=name --name=name' __vmtemp_a=none ;;
    gc) __vmtemp_o='--dry-run -y --yes' __vmtemp_a=none ;;
    doctor) __vmtemp_o='-n=name --name=name --fix -y --yes' __vmtemp_a=none ;;
    templates) __vmtemp_o='' __vmtemp_a=templates ;;
    suggest) __vmtemp_o='--json' __vmtemp_a=dir ;;
    history) __vmtemp_o='--json' __vmtemp_a=none ;;
    audit) __vmtemp_o='-n=name --name=name --since= --json --verify' __vmtemp_a=none ;;
    compose-file) __vmtemp_o='-n=name --name=name' __vmtemp_a=none ;;
    migrate) __vmtemp_o='--from=file --dry-run --allow-sensitive' __vmtemp_a=none ;;
    export) __vmtemp_o='-n=name --name=name -o=file --output=file' __vmtemp_a=none ;;
    import) __vmtemp_o='-n=name --name=name --dry-run --allow-sensitive' __vmtemp_a=file ;;
    init) __vmtemp_o='' __vmtemp_a=shell ;;
    completion) __vmtemp_o='' __vmtemp_a=shell ;;
    use) __vmtemp_o='' __vmtemp_a=name ;;
    *) __vmtemp_o='' __vmtemp_a=none ;;
    esac
}
# END vmtemp command table

# The state folder, as vmtemp computes it (sets REPLY).
__vmtemp_state_dir() {
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

__vmtemp_name_re='^[abcdefghijklmnopqrstuvwxyz0123456789][abcdefghijklmnopqrstuvwxyz0123456789_-]{0,39}$'

# Glob in a folder whatever the user's noglob/failglob/nullglob/dotglob settings
# are, without starting a process: $1 folder, $2 pattern (sets __vmtemp_r to the
# base names that matched).
__vmtemp_glob() {
    \builtin local f noglob='' failglob=''
    __vmtemp_r=()
    [[ $- == *f* ]] && noglob=1 && \builtin set +f
    \builtin shopt -q failglob && failglob=1 && \builtin shopt -u failglob
    for f in "$1"/$2; do
        f=${f%/}
        [[ -e $f ]] && __vmtemp_r+=("${f##*/}")
    done
    [[ -n $failglob ]] && \builtin shopt -s failglob
    [[ -n $noglob ]] && \builtin set -f
    \builtin return 0
}

# Temp VM names: the folders of the state folder (sets the array __vmtemp_r).
__vmtemp_names() {
    \builtin local d
    \builtin local -a found
    __vmtemp_state_dir
    __vmtemp_glob "$REPLY" '*/'
    found=("${__vmtemp_r[@]}")
    __vmtemp_r=()
    for d in "${found[@]}"; do
        [[ $d =~ $__vmtemp_name_re && $d != logs ]] && __vmtemp_r+=("$d")
    done
    \builtin return 0
}

# The temp VM a mount completion is about: -n NAME on the line, else $VMTEMP_NAME,
# else the only one (sets REPLY; empty when it cannot tell).
__vmtemp_selected() {
    REPLY=$1
    [[ -n $REPLY ]] && \builtin return 0
    REPLY=${VMTEMP_NAME:-}
    [[ -n $REPLY ]] && \builtin return 0
    __vmtemp_names
    ((${#__vmtemp_r[@]} == 1)) && REPLY=${__vmtemp_r[0]}
    \builtin return 0
}

# Current mounts of a temp VM from its mounts.list; $2: all, rw or ro (sets __vmtemp_r).
__vmtemp_mounted() {
    \builtin local target source mode file
    __vmtemp_selected "$1"
    __vmtemp_r=()
    [[ -n $REPLY ]] || \builtin return 0
    file=$REPLY/mounts.list
    __vmtemp_state_dir
    file=$REPLY/$file
    [[ -r $file ]] || \builtin return 0
    while IFS=$'\t' \builtin read -r target source mode; do
        [[ -n $target ]] || \builtin continue
        [[ $2 == all || $2 == "$mode" ]] || \builtin continue
        __vmtemp_r+=("$target" "$source")
    done <"$file"
    \builtin return 0
}

# Template names: the built-in folder (filled in by vmtemp init) and the user's.
__vmtemp_templates() {
    \builtin local builtin_dir='@VMTEMP_TEMPLATES@' user_dir f
    if [[ ${XDG_CONFIG_HOME:-} == /* ]]; then
        user_dir=$XDG_CONFIG_HOME/vmtemp/templates
    else
        user_dir=$HOME/.config/vmtemp/templates
    fi
    \builtin local -a found
    __vmtemp_glob "$builtin_dir" '*.yaml'
    found=("${__vmtemp_r[@]}")
    __vmtemp_glob "$user_dir" '*.yaml'
    found+=("${__vmtemp_r[@]}")
    __vmtemp_r=()
    for f in "${found[@]}"; do
        [[ $f == .* ]] || __vmtemp_r+=("${f%.yaml}")
    done
    \builtin return 0
}

# A word as typed without its quoting (enough for paths with spaces).
__vmtemp_dequote() {
    REPLY=$1
    case $REPLY in
    \'*) REPLY=${REPLY#\'} REPLY=${REPLY%\'} ;;
    \"*) REPLY=${REPLY#\"} REPLY=${REPLY%\"} ;;
    *) REPLY=${REPLY//\\/} ;;
    esac
    \builtin return 0
}

# A path quoted for the command line, a leading ~ left as it is (sets REPLY).
__vmtemp_quote() {
    if [[ $1 == '~'* ]]; then
        \builtin printf -v REPLY '%q' "${1#\~}"
        REPLY="~$REPLY"
    else
        \builtin printf -v REPLY '%q' "$1"
    fi
    \builtin return 0
}

# Mount specs: directories (bash's compgen, a '/' appended), and once a path names a
# directory, SOURCE:ro and SOURCE:rw; after SOURCE: a default target, ro, rw.
__vmtemp_mount_candidates() {
    \builtin local cur="$1" path rest d base dirs
    __vmtemp_dequote "$cur"
    path=$REPLY
    __vmtemp_r=()
    if [[ $path == *:* ]]; then
        rest=${path#*:}
        path=${path%%:*}
        __vmtemp_quote "$path"
        path=$REPLY
        if [[ $rest == *:* ]]; then
            __vmtemp_r+=("$path:${rest%%:*}:ro " "$path:${rest%%:*}:rw ")
        else
            base=${path%/}
            base=${base##*/}
            __vmtemp_r+=("$path:ro " "$path:rw ")
            [[ -n $base && $base != . && $base != .. && $base != '~' ]] && __vmtemp_r+=("$path:/workspace/$base")
        fi
        \builtin return 0
    fi
    base=${path##*/}
    dirs=$(\builtin compgen -d -- "$path" || :)
    while \builtin read -r d; do
        [[ -n $d ]] || \builtin continue
        # hidden folders only when asked for with a leading dot
        [[ ${d##*/} == .* && $base != .* ]] && \builtin continue
        __vmtemp_quote "$d"
        __vmtemp_r+=("${REPLY%/}/")
    done <<<"$dirs"
    d=$path
    [[ $d == \~/* || $d == \~ ]] && d=$HOME${d#\~}
    if [[ -n $path && -d $d ]]; then
        __vmtemp_quote "$path"
        __vmtemp_r+=("$REPLY:ro " "$REPLY:rw ")
    fi
    \builtin return 0
}

# Keep the candidates that start with $1; cut each to the part readline replaces
# (after the last COMP_WORDBREAKS character of the word); set COMPREPLY.
__vmtemp_reply() {
    \builtin local cur="$1" pre='' c i ch
    \builtin shift
    for ((i = ${#cur} - 1; i >= 0; i--)); do
        ch=${cur:i:1}
        if [[ $ch != [[:space:]] && ${COMP_WORDBREAKS:-} == *"$ch"* ]]; then
            pre=${cur:0:i+1}
            \builtin break
        fi
    done
    COMPREPLY=()
    for c in "$@"; do
        [[ $c == "$cur"* ]] && COMPREPLY+=("${c#"$pre"}")
    done
    \builtin return 0
}

# The words of the line with those bash split at COMP_WORDBREAKS joined back
# (sets the array __vmtemp_w and __vmtemp_cw).
__vmtemp_join_words() {
    \builtin local line="${COMP_LINE:-}" i w trimmed j=-1
    __vmtemp_w=()
    if [[ -z $line ]]; then
        __vmtemp_w=("${COMP_WORDS[@]}")
        __vmtemp_cw=$COMP_CWORD
        \builtin return 0
    fi
    line=${line:0:${COMP_POINT:-${#line}}}
    for ((i = 0; i <= COMP_CWORD && i < ${#COMP_WORDS[@]}; i++)); do
        w=${COMP_WORDS[i]}
        trimmed=${line#"${line%%[![:space:]]*}"}
        if ((j >= 0)) && [[ $trimmed == "$line" ]]; then
            __vmtemp_w[j]+=$w
        else
            j=$((j + 1))
            __vmtemp_w[j]=$w
        fi
        line=${trimmed#"$w"}
    done
    ((j >= 0)) || { j=0 && __vmtemp_w=(''); }
    __vmtemp_cw=$j
    \builtin return 0
}

__vmtemp_complete() {
    \builtin local -a __vmtemp_w __vmtemp_r pos
    __vmtemp_w=() __vmtemp_r=() pos=()
    \builtin local __vmtemp_cw=0 __vmtemp_o='' __vmtemp_a=none REPLY=''
    \builtin local cur word cmd='' vm='' kind='' opt='' i=1 dashdash=0 padded
    __vmtemp_join_words
    # `vm temp ...` is `vmtemp ...`
    if [[ ${__vmtemp_w[0]##*/} == vm ]]; then
        if ((__vmtemp_cw == 1)); then
            __vmtemp_reply "${__vmtemp_w[1]}" temp
            \builtin return 0
        fi
        [[ ${__vmtemp_w[1]:-} == temp ]] || \builtin return 0
        __vmtemp_w=(vmtemp "${__vmtemp_w[@]:2}")
        __vmtemp_cw=$((__vmtemp_cw - 1))
    fi
    cur=${__vmtemp_w[__vmtemp_cw]:-}
    while ((i < __vmtemp_cw)); do
        word=${__vmtemp_w[i]}
        if [[ -z $cmd ]]; then
            if [[ $word != -* ]]; then
                cmd=$word
                __vmtemp_table "$cmd"
                padded=" $__vmtemp_o "
            fi
        elif ((dashdash)); then
            pos+=("$word")
        elif [[ $word == -- ]]; then
            dashdash=1
        elif [[ $word == --name=* ]]; then
            vm=${word#--name=}
        elif [[ $word == -* && $word != *=* && $padded == *" $word="* ]]; then
            [[ $word == -n || $word == --name ]] && vm=${__vmtemp_w[i + 1]:-}
            i=$((i + 1))
            ((i == __vmtemp_cw)) && opt=$word
        elif [[ $word != -* ]]; then
            pos+=("$word")
            if [[ $__vmtemp_a == snapshot ]]; then
                cmd=$cmd/$word
                __vmtemp_table "$cmd"
                padded=" $__vmtemp_o "
                pos=()
            fi
        fi
        i=$((i + 1))
    done
    if [[ -z $cmd ]]; then
        if [[ $cur == -* ]]; then
            # shellcheck disable=SC2086
            __vmtemp_reply "$cur" $__vmtemp_global_opts
        else
            # shellcheck disable=SC2086
            __vmtemp_reply "$cur" $__vmtemp_commands
        fi
        \builtin return 0
    fi
    ((dashdash)) && \builtin return 0
    if [[ -z $opt && $cur == --*=* ]]; then
        opt=${cur%%=*}
        [[ $padded == *" $opt="* ]] || \builtin return 0
    fi
    if [[ -n $opt ]]; then
        kind=${padded#*" $opt="}
        kind=${kind%% *}
        kind=value-${kind:-none}
    elif [[ $cur == -* ]]; then
        __vmtemp_r=()
        for word in $__vmtemp_o; do
            __vmtemp_r+=("${word%%=*}")
        done
        __vmtemp_reply "$cur" "${__vmtemp_r[@]}" --help
        \builtin return 0
    else
        kind=$__vmtemp_a
    fi
    # the value of --opt=VALUE: candidates carry the --opt= prefix
    \builtin local prefix=''
    [[ $cur == --*=* && $kind == value-* ]] && prefix=${cur%%=*}= && cur=${cur#*=}
    __vmtemp_r=()
    case $kind in
    name | value-name)
        __vmtemp_names
        ;;
    value-template)
        __vmtemp_templates
        ;;
    mount)
        \builtin compopt -o nospace 2>/dev/null || :
        __vmtemp_mount_candidates "$cur"
        ;;
    mounted | mounted-rw | mounted-ro)
        [[ $kind == mounted ]] && __vmtemp_mounted "$vm" all
        [[ $kind == mounted-rw ]] && __vmtemp_mounted "$vm" rw
        [[ $kind == mounted-ro ]] && __vmtemp_mounted "$vm" ro
        for ((i = 0; i < ${#__vmtemp_r[@]}; i++)); do
            __vmtemp_quote "${__vmtemp_r[i]}"
            __vmtemp_r[i]=$REPLY
        done
        ;;
    value-mountspec)
        \builtin compopt -o nospace 2>/dev/null || :
        if [[ $cur == *source=* ]]; then
            word=${cur%%source=*}source=
            __vmtemp_mount_candidates "${cur#*source=}"
            for ((i = 0; i < ${#__vmtemp_r[@]}; i++)); do
                __vmtemp_r[i]=$word${__vmtemp_r[i]%%:*}
                __vmtemp_r[i]=${__vmtemp_r[i]% }
            done
        else
            __vmtemp_r=('type=bind,source=' 'type=nfs,source=' 'type=sync,source=')
        fi
        ;;
    shell)
        ((${#pos[@]} == 0)) && __vmtemp_r=(bash zsh)
        ;;
    templates)
        if ((${#pos[@]} == 0)); then
            __vmtemp_r=(list show)
        elif ((${#pos[@]} == 1)) && [[ ${pos[0]} == show ]]; then
            __vmtemp_templates
        fi
        ;;
    snapshot)
        ((${#pos[@]} == 0)) && __vmtemp_r=(save list restore rm)
        ;;
    dir)
        \builtin compopt -o nospace 2>/dev/null || :
        __vmtemp_mount_candidates "$cur"
        pos=()
        for word in "${__vmtemp_r[@]}"; do
            [[ $word == */ ]] && pos+=("$word")
        done
        __vmtemp_r=("${pos[@]}")
        ;;
    file | value-file)
        \builtin compopt -o filenames 2>/dev/null || :
        \builtin mapfile -t __vmtemp_r < <(\builtin compgen -f -- "$cur")
        ;;
    esac
    if [[ -n $prefix ]]; then
        __vmtemp_r=("${__vmtemp_r[@]/#/$prefix}")
        cur=$prefix$cur
    fi
    __vmtemp_reply "$cur" "${__vmtemp_r[@]}"
    \builtin return 0
}

\builtin complete -F __vmtemp_complete vmtemp
