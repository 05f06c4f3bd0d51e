#!/usr/bin/env bash
# library/python:3.11 — Debian bookworm minbase with python3 (3.11), pip,
# python-is-python3, Django and psycopg2.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
out=$1 work=$2

packages=python3,python3-pip,python-is-python3,python3-django,python3-psycopg2,ca-certificates

mmdebstrap "${MMDEBSTRAP_SLIM[@]}" \
    --include="$packages" \
    --customize-hook='rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED' \
    --customize-hook='chroot "$1" python3 -c "import django, psycopg2, pip" ' \
    "$SUITE" "$work/rootfs.tar" "$(debian_sources)"

"${OCI_LAYOUT[@]}" image "$out" --layer "$work/rootfs.tar" --normalize \
    --history "mmdebstrap --variant=minbase $SUITE --include=$packages" \
    --env "PATH=$DEFAULT_PATH" --env LANG=C.UTF-8 \
    --cmd '["python3"]' \
    --label "org.opencontainers.image.description=rde test image: Debian $SUITE python3 + django + psycopg2" \
    --ref latest >/dev/null
