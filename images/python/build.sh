#!/usr/bin/env bash
# library/python:3.11 — Debian bookworm minbase with python3 (3.11), pip,
# python-is-python3, Django and psycopg2.  Like a company base image, apt and
# pip point at internal mirrors only: the test mirror of scripts/test-mirror
# on http://$MIRROR_HOSTPORT (apt lists left empty).
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
out=$1 work=$2

packages=python3,python3-pip,python-is-python3,python3-django,python3-psycopg2,ca-certificates
# Where scripts/test-mirror serves (its default --addr and --port).
export MIRROR_HOSTPORT=10.213.0.1:8079

mmdebstrap "${MMDEBSTRAP_SLIM[@]}" \
    --include="$packages" \
    --customize-hook='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED' \
    --customize-hook='rm -rf "$1"/etc/apt/sources.list.d/* "$1"/var/lib/apt/lists/*' \
    --customize-hook='printf "deb [trusted=yes] http://%s/debian ./\n" "$MIRROR_HOSTPORT" >"$1"/etc/apt/sources.list' \
    --customize-hook='printf "[global]\nindex-url = http://%s/simple\ntrusted-host = %s\n" "$MIRROR_HOSTPORT" "${MIRROR_HOSTPORT%:*}" >"$1"/etc/pip.conf' \
    --customize-hook='chroot "$1" python3 -c "import django, psycopg2, pip" ' \
    --customize-hook='[ "$(chroot "$1" python3 -m pip config --global get global.index-url)" = "http://$MIRROR_HOSTPORT/simple" ]' \
    "$SUITE" "$work/rootfs.tar" "$(debian_sources)"

"${OCI_LAYOUT[@]}" image "$out" --layer "$work/rootfs.tar" --normalize \
    --history "mmdebstrap --variant=minbase $SUITE --include=$packages" \
    --env "PATH=$DEFAULT_PATH" --env LANG=C.UTF-8 \
    --cmd '["python3"]' \
    --label "org.opencontainers.image.description=rde test image: Debian $SUITE python3 + django + psycopg2, apt and pip on http://$MIRROR_HOSTPORT" \
    --ref latest >/dev/null
