# shellcheck shell=bash disable=SC2034
# Sourced by images/*/build.sh.  Provides the shared settings and helpers.
# build.sh is called as: build.sh OUT_LAYOUT_DIR WORK_DIR
set -euo pipefail

IMAGES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Debian's python: the stdlib is all oci-layout.py needs, but stay off any
# pyenv/virtualenv python that may shadow it on PATH.
PYTHON=${RDE_PYTHON:-/usr/bin/python3}
export IMAGES_LIB="$IMAGES_DIR/lib"
OCI_LAYOUT=("$PYTHON" "$IMAGES_DIR/oci-layout.py")
# Fixed timestamp: layers and configs are reproducible where the inputs are.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
SUITE=bookworm
DEFAULT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# Apt sources for mmdebstrap: the Debian sources configured on this machine
# (deb822 file) unless RDE_DEBIAN_SOURCES names another file or mirror URL.
debian_sources() {
    if [[ -n ${RDE_DEBIAN_SOURCES:-} ]]; then
        echo "$RDE_DEBIAN_SOURCES"
    elif [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
        echo /etc/apt/sources.list.d/debian.sources
    elif [[ -f /etc/apt/sources.list ]] && grep -q '^deb ' /etc/apt/sources.list; then
        echo /etc/apt/sources.list
    else
        echo http://deb.debian.org/debian
    fi
}

# fetch_deb PACKAGE DIR: download PACKAGE's .deb (for this machine's
# architecture) from the configured apt sources into DIR and print its path.
fetch_deb() {
    local pkg=$1 dir=$2
    (cd "$dir" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2)
    ls "$dir"/"${pkg}"_*.deb | head -n1
}

# Options shared by the mmdebstrap-based images: no docs/man/locales, no apt
# lists or caches, no host-specific files left in the image.
MMDEBSTRAP_SLIM=(
    --variant=minbase
    --aptopt='Acquire::Languages "none"'
    --dpkgopt='path-exclude=/usr/share/man/*'
    --dpkgopt='path-exclude=/usr/share/doc/*'
    --dpkgopt='path-include=/usr/share/doc/*/copyright'
    --dpkgopt='path-exclude=/usr/share/info/*'
    --dpkgopt='path-exclude=/usr/share/locale/*'
    --dpkgopt='path-include=/usr/share/locale/locale.alias'
    --dpkgopt='path-exclude=/usr/share/lintian/*'
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb "$1"/var/cache/debconf/*-old "$1"/var/lib/dpkg/*-old'
    --customize-hook='rm -f "$1"/var/log/dpkg.log "$1"/var/log/alternatives.log "$1"/var/log/apt/*.log "$1"/var/log/apt/eipp.log.xz "$1"/etc/hostname "$1"/etc/resolv.conf "$1"/var/cache/ldconfig/aux-cache'
    --customize-hook='rm -f "$1"/etc/machine-id "$1"/var/lib/dbus/machine-id'
)
