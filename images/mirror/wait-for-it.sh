#!/usr/bin/env bash
# wait-for-it.sh HOST:PORT [-t SECONDS] [-s] [-q] [-- COMMAND ARGS...]
#
# rde's stand-in for vishnubob/wait-for-it (same command line), served by
# scripts/test-mirror as files/wait-for-it.sh because the tests reach no
# outside host. Waits until HOST:PORT accepts a TCP connection (bash's
# /dev/tcp), at most SECONDS (15 by default, 0 = forever), then runs COMMAND.
# Exit: 0 when the port answered (or COMMAND's code), 124 on timeout.
set -u
host="" port="" timeout=15 strict=0 quiet=0
while (($#)); do
    case $1 in
        *:*) host=${1%%:*} port=${1##*:}; shift ;;
        -h) host=$2; shift 2 ;;
        --host=*) host=${1#*=}; shift ;;
        -p) port=$2; shift 2 ;;
        --port=*) port=${1#*=}; shift ;;
        -t) timeout=$2; shift 2 ;;
        --timeout=*) timeout=${1#*=}; shift ;;
        -s | --strict) strict=1; shift ;;
        -q | --quiet) quiet=1; shift ;;
        --) shift; break ;;
        *) echo "wait-for-it.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
done
[[ -n $host && -n $port ]] || { echo "usage: wait-for-it.sh HOST:PORT [-t SECONDS] [-s] [-q] [-- COMMAND ARGS]" >&2; exit 2; }
say() { ((quiet)) || echo "wait-for-it.sh: $*" >&2; }
say "waiting ${timeout}s for $host:$port"
start=$SECONDS
while ! (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; do
    if ((timeout > 0 && SECONDS - start >= timeout)); then
        say "timeout after ${timeout}s waiting for $host:$port"
        ((strict)) && exit 124
        (($#)) && exec "$@"
        exit 124
    fi
    sleep 1
done
say "$host:$port is available after $((SECONDS - start))s"
(($#)) && exec "$@"
exit 0
