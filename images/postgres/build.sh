#!/usr/bin/env bash
# library/postgres:15 — Debian bookworm minbase with postgresql-15 and our
# own docker-entrypoint.sh (see that file for the supported variables).
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
out=$1 work=$2
here="$IMAGES_DIR/postgres"

packages=postgresql-15
pgbin=/usr/lib/postgresql/15/bin
pgdata=/var/lib/postgresql/data

# JIT is dropped to halve the image: without llvmjit.so postgres quietly runs
# without JIT (libLLVM alone is ~105 MB).
# postgresql-common must not create the Debian "main" cluster: the config
# below has to exist before the package is configured.
mmdebstrap "${MMDEBSTRAP_SLIM[@]}" \
    --include="$packages" \
    --essential-hook='mkdir -p "$1/etc/postgresql-common" && echo "create_main_cluster = false" >"$1/etc/postgresql-common/createcluster.conf"' \
    --customize-hook="copy-in $here/docker-entrypoint.sh /usr/local/bin/" \
    --customize-hook='chmod 0755 "$1/usr/local/bin/docker-entrypoint.sh" && ln -sf usr/local/bin/docker-entrypoint.sh "$1/docker-entrypoint.sh"' \
    --customize-hook='mkdir -p "$1/docker-entrypoint-initdb.d"' \
    --customize-hook="chroot \"\$1\" sh -c 'echo \$(id -u postgres):\$(id -g postgres)' >$work/postgres-ids" \
    --customize-hook='rm -f "$1"/usr/lib/x86_64-linux-gnu/libLLVM-*.so* "$1"/usr/lib/postgresql/15/lib/llvmjit*' \
    --customize-hook='rm -rf "$1"/usr/lib/postgresql/15/lib/bitcode' \
    --customize-hook="chroot \"\$1\" install -d -o postgres -g postgres -m 1777 $pgdata" \
    --customize-hook='test -z "$(ls -A "$1/etc/postgresql" 2>/dev/null)"' \
    --customize-hook="chroot \"\$1\" $pgbin/postgres --version" \
    "$SUITE" "$work/rootfs.tar" "$(debian_sources)"

# mmdebstrap leaves /run empty; /var/run -> /run.
ids=$(<"$work/postgres-ids")
"${OCI_LAYOUT[@]}" image "$out" --layer "$work/rootfs.tar" --normalize \
    --mkdir "run/postgresql:2775:$ids" \
    --history "mmdebstrap --variant=minbase $SUITE --include=$packages + docker-entrypoint.sh" \
    --env "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$pgbin" \
    --env LANG=C.UTF-8 --env PG_MAJOR=15 --env "PGDATA=$pgdata" \
    --entrypoint '["docker-entrypoint.sh"]' --cmd '["postgres"]' \
    --expose 5432/tcp --volume "$pgdata" --stop-signal SIGINT \
    --label "org.opencontainers.image.description=rde test image: Debian $SUITE postgresql-15" \
    --ref latest >/dev/null
