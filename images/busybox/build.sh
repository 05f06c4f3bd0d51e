#!/usr/bin/env bash
# library/busybox: Debian's busybox-static, applets as symlinks to
# /bin/busybox, root/app(1000)/nobody users.  One layout, three refs:
#   latest  gzip layer      (also pushed as :1.36 and as Docker schema2)
#   zstd    zstd layer      (library/busybox-zstd)
#   plain   uncompressed    (library/busybox-plain)
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
out=$1 work=$2

deb=$(fetch_deb busybox-static "$work")
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" ./bin/busybox
"$work/bin/busybox" --list-full >"$work/applets"

"$PYTHON" - "$work/bin/busybox" "$work/applets" "$work/rootfs.tar" <<'PY'
import sys
import os
sys.path.insert(0, os.environ["IMAGES_LIB"])
import rootfs
busybox = open(sys.argv[1], "rb").read()
applets = open(sys.argv[2]).read().split()
w = rootfs.LayerWriter(sys.argv[3])
rootfs.busybox_tree(w, busybox, applets)
# Names in /etc/hosts first: looking up a peer never becomes a DNS query.
w.file("etc/nsswitch.conf", "hosts: files dns\n")
w.close()
PY

version=$(dpkg-deb -f "$deb" Version)
common=(--layer "$work/rootfs.tar" --history "busybox-static $version"
    --env "PATH=$DEFAULT_PATH" --cmd '["sh"]'
    --label "org.opencontainers.image.version=${version#*:}"
    --label "org.opencontainers.image.description=rde test image: busybox-static from Debian")
"${OCI_LAYOUT[@]}" image "$out" "${common[@]}" --compression gzip --ref latest >/dev/null
"${OCI_LAYOUT[@]}" image "$out" "${common[@]}" --compression zstd --ref zstd >/dev/null
"${OCI_LAYOUT[@]}" image "$out" "${common[@]}" --compression none --ref plain >/dev/null
