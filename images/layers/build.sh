#!/usr/bin/env bash
# test/layers — three hand-written layers exercising the layer writer
# (entry types, ownership, modes, xattrs, whiteouts, opaque dirs, type
# changes, hardlinks).  The expected merged tree is in images/README.md.
source "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
out=$1 work=$2

"$PYTHON" "$IMAGES_DIR/layers/make-layers.py" "$work"
"${OCI_LAYOUT[@]}" image "$out" \
    --layer "$work/layer1.tar" --history "layer 1: every entry type" \
    --layer "$work/layer2.tar" --history "layer 2: whiteouts, opaque dir, type changes, chmod/chown" \
    --layer "$work/layer3.tar" --history "layer 3: recreate deleted file, hardlink" \
    --env "PATH=$DEFAULT_PATH" --workdir / \
    --label "org.opencontainers.image.description=rde test image: layer writer cases" \
    --ref latest >/dev/null
