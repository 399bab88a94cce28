# aethertop.bash - bash completion for aethertop: commands, clear targets,
# options and their values (themes, windows, files). Installed as
# share/bash-completion/completions/aethertop; needs only bash itself.

_aethertop()
{
    local cur prev words cword
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    cword=$COMP_CWORD

    local commands="stats config metrics list affinity mappings hits ttl-advice clear help"
    local targets="user affinity all provider mappings mapping provider-mapping"
    local opts="--redis --database --env-file --config --timeout --json --csv --yes --read-only
                --audit-log --redis-ca --redis-cert --redis-key --insecure --delay --theme
                --limit --offset --window --hours --help --version"

    case $prev in
        --env-file|--config|--audit-log|--redis-ca|--redis-cert|--redis-key)
            COMPREPLY=($(compgen -f -- "$cur"))
            return 0 ;;
        --theme)
            COMPREPLY=($(compgen -W "default light monochrome high-contrast" -- "$cur"))
            return 0 ;;
        --window)
            COMPREPLY=($(compgen -W "5m 1h 24h" -- "$cur"))
            return 0 ;;
        --redis)
            COMPREPLY=($(compgen -W "redis:// rediss:// unix://" -- "$cur"))
            return 0 ;;
        --database)
            COMPREPLY=($(compgen -W "postgresql://" -- "$cur"))
            return 0 ;;
        --timeout|--delay|--limit|--offset|--hours)
            return 0 ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return 0
    fi

    # the command and its first argument, skipping options and their values
    local i w cmd="" sub="" skip=0
    for ((i = 1; i < cword; i++)); do
        w=${COMP_WORDS[i]}
        if ((skip)); then skip=0; continue; fi
        case $w in
            --redis|--database|--env-file|--config|--timeout|--audit-log|--redis-ca|--redis-cert|\
            --redis-key|--delay|--theme|--limit|--offset|--window|--hours) skip=1 ;;
            -*) ;;
            *) if [[ -z $cmd ]]; then cmd=$w; elif [[ -z $sub ]]; then sub=$w; fi ;;
        esac
    done

    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
    elif [[ $cmd == clear && -z $sub ]]; then
        COMPREPLY=($(compgen -W "$targets" -- "$cur"))
    elif [[ $cmd == help && -z $sub ]]; then
        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
    fi
    return 0
}
complete -F _aethertop aethertop
