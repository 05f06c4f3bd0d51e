#!/usr/bin/env bash
# Entrypoint of rde's test postgres image (Debian postgresql-15).  Follows the
# behaviour of the official postgres image's entrypoint:
#   POSTGRES_PASSWORD        superuser password (required for a new cluster
#                            unless POSTGRES_HOST_AUTH_METHOD=trust)
#   POSTGRES_USER            superuser name (default postgres)
#   POSTGRES_DB              database created on first start (default: user)
#   POSTGRES_INITDB_ARGS     extra initdb arguments
#   POSTGRES_HOST_AUTH_METHOD  pg_hba method for host connections
#                            (default scram-sha-256)
#   PGDATA                   data directory (default /var/lib/postgresql/data)
# POSTGRES_PASSWORD, POSTGRES_USER and POSTGRES_DB may instead be read from
# the file named by the same variable with a _FILE suffix.
# Scripts in /docker-entrypoint-initdb.d (*.sh, *.sql, *.sql.gz) run once,
# after the cluster is created.
set -Eeuo pipefail

log() { printf '%s [entrypoint] %s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# load_env VAR [DEFAULT]: VAR from the environment, or from the file named by
# VAR_FILE, or DEFAULT.
load_env() {
    local var=$1 def=${2:-} file_var="${1}_FILE" val
    if [[ -n ${!var:-} && -n ${!file_var:-} ]]; then
        die "both $var and $file_var are set; use only one"
    fi
    val=$def
    if [[ -n ${!var:-} ]]; then
        val=${!var}
    elif [[ -n ${!file_var:-} ]]; then
        val=$(<"${!file_var}")
    fi
    export "$var=$val"
    unset "$file_var"
}

# True if the arguments ask postgres for help/version/config output only.
wants_info_only() {
    local arg
    for arg; do
        case $arg in
            -'?'|--help|--describe-config|-V|--version|-C|--*-config) return 0 ;;
        esac
    done
    return 1
}

setup_env() {
    export PGDATA=${PGDATA:-/var/lib/postgresql/data}
    load_env POSTGRES_PASSWORD
    load_env POSTGRES_USER postgres
    load_env POSTGRES_DB "$POSTGRES_USER"
    export POSTGRES_INITDB_ARGS=${POSTGRES_INITDB_ARGS:-}
    export POSTGRES_HOST_AUTH_METHOD=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
    CLUSTER_EXISTS=
    if [[ -s $PGDATA/PG_VERSION ]]; then
        CLUSTER_EXISTS=1
    fi
}

# As root: create the directories, give them to postgres.
prepare_dirs_as_root() {
    mkdir -p "$PGDATA"
    chmod 00700 "$PGDATA" || :
    mkdir -p /var/run/postgresql
    chmod 02775 /var/run/postgresql || :
    find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
    find /var/run/postgresql \! -user postgres -exec chown postgres:postgres '{}' +
}

drop_privileges() {
    if command -v gosu >/dev/null 2>&1; then
        exec gosu postgres "$@"
    fi
    exec setpriv --reuid=postgres --regid=postgres --init-groups --inh-caps=-all "$@"
}

check_password() {
    if [[ -n $POSTGRES_PASSWORD ]]; then
        return 0
    fi
    if [[ $POSTGRES_HOST_AUTH_METHOD == trust ]]; then
        log "warning: POSTGRES_HOST_AUTH_METHOD=trust: anyone who can reach the"
        log "warning: server can connect without a password."
        return 0
    fi
    cat >&2 <<'EOF'
Error: the database is not initialised and no superuser password was given.
Set POSTGRES_PASSWORD to a non-empty value (or POSTGRES_PASSWORD_FILE to a
file holding it).  To allow all connections without a password (not
recommended) set POSTGRES_HOST_AUTH_METHOD=trust instead.
EOF
    exit 1
}

init_cluster() {
    log "initialising database cluster in $PGDATA"
    local initdb_args=(--username="$POSTGRES_USER")
    local pwfile=""
    if [[ -n $POSTGRES_PASSWORD ]]; then
        pwfile=$(mktemp)
        printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
        initdb_args+=(--pwfile="$pwfile")
    fi
    # Word splitting of POSTGRES_INITDB_ARGS is intended.
    # shellcheck disable=SC2086
    if ! initdb "${initdb_args[@]}" $POSTGRES_INITDB_ARGS >&2; then
        [[ -z $pwfile ]] || rm -f "$pwfile"
        die "initdb failed"
    fi
    [[ -z $pwfile ]] || rm -f "$pwfile"

    printf "\n# added by docker-entrypoint.sh\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
    local method=$POSTGRES_HOST_AUTH_METHOD
    printf '\n# added by docker-entrypoint.sh\nhost all all all %s\n' "$method" >>"$PGDATA/pg_hba.conf"
}

psql_init() {
    PGPASSWORD=${POSTGRES_PASSWORD:-} psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password \
        --username "$POSTGRES_USER" --dbname "${1:-$POSTGRES_DB}" "${@:2}"
}

start_temp_server() {
    log "starting temporary server (unix socket only)"
    PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" \
        -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start >&2
}

stop_temp_server() {
    log "stopping temporary server"
    PGUSER=$POSTGRES_USER pg_ctl -D "$PGDATA" -m fast -w stop >&2
}

create_database() {
    if [[ $POSTGRES_DB == postgres ]]; then
        return 0
    fi
    local exists
    exists=$(psql_init postgres -tA --set db="$POSTGRES_DB" <<'EOF'
SELECT 1 FROM pg_database WHERE datname = :'db';
EOF
)
    if [[ -z $exists ]]; then
        log "creating database $POSTGRES_DB"
        psql_init postgres -q --set db="$POSTGRES_DB" <<'EOF'
CREATE DATABASE :"db";
EOF
    fi
}

run_init_files() {
    local f
    shopt -s nullglob
    for f in /docker-entrypoint-initdb.d/*; do
        case $f in
            *.sh)
                if [[ -x $f ]]; then
                    log "running $f"
                    "$f"
                else
                    log "sourcing $f"
                    # shellcheck disable=SC1090
                    . "$f"
                fi
                ;;
            *.sql) log "running $f"; psql_init "$POSTGRES_DB" -f "$f" >&2 ;;
            *.sql.gz) log "running $f"; gzip -dc "$f" | psql_init "$POSTGRES_DB" >&2 ;;
            *) log "ignoring $f" ;;
        esac
    done
    shopt -u nullglob
}

main() {
    if [[ ${1:-} == -* ]]; then
        set -- postgres "$@"
    fi

    if [[ ${1:-} != postgres ]] || wants_info_only "$@"; then
        exec "$@"
    fi

    setup_env
    if [[ $(id -u) == 0 ]]; then
        prepare_dirs_as_root
        drop_privileges "${BASH_SOURCE[0]}" "$@"
    fi

    if [[ -z $CLUSTER_EXISTS ]]; then
        check_password
        mkdir -p "$PGDATA"
        chmod 00700 "$PGDATA" 2>/dev/null || :
        init_cluster
        start_temp_server
        create_database
        run_init_files
        stop_temp_server
        log "initialisation complete; starting postgres"
    else
        log "database cluster already present in $PGDATA; skipping initialisation"
    fi

    exec "$@"
}

main "$@"
