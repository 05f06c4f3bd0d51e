#!/usr/bin/env bash
# library/multi — an OCI image index with three single-layer images:
#   linux/amd64      /platform = "linux/amd64"     + /bin/busybox, /bin/sh, /bin/cat
#   linux/arm64/v8   /platform = "linux/arm64/v8"
#   linux/arm/v7     /platform = "linux/arm/v7"
# Only amd64 carries a binary (busybox-static from Debian); the others only
# hold the text file.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
out=$1 work=$2

deb=$(fetch_deb busybox-static "$work")
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" ./bin/busybox

descs=()
for platform in linux/amd64 linux/arm64/v8 linux/arm/v7; do
    IFS=/ read -r os arch variant <<<"$platform"
    tag=${platform//\//-}
    "$PYTHON" - "$platform" "$work/$tag.tar" "$work/bin/busybox" <<'PY'
import os, sys
sys.path.insert(0, os.environ["IMAGES_LIB"])
import rootfs
platform, out, busybox = sys.argv[1:4]
w = rootfs.LayerWriter(out)
w.file("platform", platform + "\n")
if platform == "linux/amd64":
    w.dir("bin")
    w.file("bin/busybox", open(busybox, "rb").read(), mode=0o755)
    w.symlink("bin/sh", "busybox")
    w.symlink("bin/cat", "busybox")
w.close()
PY
    args=(--layer "$work/$tag.tar" --history "platform marker $platform"
        --os "$os" --arch "$arch" --env "PATH=$DEFAULT_PATH"
        --cmd '["/bin/cat", "/platform"]' --descriptor-out "$work/$tag.json")
    [[ -z $variant ]] || args+=(--variant "$variant")
    "${OCI_LAYOUT[@]}" image "$out" "${args[@]}" >/dev/null
    descs+=(--manifest "$work/$tag.json")
done
"${OCI_LAYOUT[@]}" index "$out" "${descs[@]}" --ref latest >/dev/null
