#!/bin/bash
# Builds the minimal guest kernel (configs/guest-kernel/minimal.config on top of allnoconfig:
# virtio PCI and MMIO, virtio-blk/console/net, ext4, 8250 console, kvm-clock, all built in) from
# Debian's linux-source-6.1 package. It is the kernel of the virtio-mmio tests (the stock kernel
# lacks VIRTIO_MMIO_CMDLINE_DEVICES) and of boot-time benchmarks.
#
# Output: $CACHE/minimal-kernel/bzImage (printed on stdout). Environment: VMM_CACHE_DIR (default
# ~/.cache/vmm), JOBS (default nproc). Idempotent: skipped when the bzImage exists and was built
# from the current fragment. The build takes about 11 minutes on 2 cores.
set -euo pipefail

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FRAGMENT=$SRC_DIR/../configs/guest-kernel/minimal.config
CACHE=${VMM_CACHE_DIR:-$HOME/.cache/vmm}
OUT_DIR=$CACHE/minimal-kernel
SOURCE_PKG=linux-source-6.1
JOBS=${JOBS:-$(nproc)}

die() { echo "build-minimal-kernel: $*" >&2; exit 1; }

[[ -f $FRAGMENT ]] || die "$FRAGMENT missing"
fragment_sum=$(sha256sum "$FRAGMENT" | cut -d' ' -f1)
if [[ -f $OUT_DIR/bzImage && -f $OUT_DIR/fragment.sha256 ]] &&
   [[ $(cat "$OUT_DIR/fragment.sha256") == "$fragment_sum" ]]; then
  echo "$OUT_DIR/bzImage"
  exit 0
fi

for tool in make gcc bc flex bison perl xz; do
  command -v "$tool" >/dev/null ||
    die "$tool not found (apt-get install build-essential bc flex bison libelf-dev libssl-dev xz-utils)"
done
# The package's tarball lands in /usr/src; fetch it only when missing. Only glob words go in the
# array: under nullglob a word without a glob character is kept even when no such file exists.
shopt -s nullglob
tarballs=(/usr/src/linux-source-6.1*.tar.xz)
if (( ${#tarballs[@]} == 0 )); then
  echo "build-minimal-kernel: installing $SOURCE_PKG" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$SOURCE_PKG" >&2 ||
    die "apt-get install $SOURCE_PKG failed"
  tarballs=(/usr/src/linux-source-6.1*.tar.xz)
  (( ${#tarballs[@]} > 0 )) || die "no /usr/src/linux-source-6.1*.tar.xz after installing $SOURCE_PKG"
fi
TARBALL=${tarballs[0]}

mkdir -p "$OUT_DIR"
SRC=$OUT_DIR/src
if [[ ! -f $SRC/.unpacked || $(cat "$SRC/.unpacked") != "$TARBALL" ]]; then
  echo "build-minimal-kernel: unpacking $TARBALL" >&2
  rm -rf "$SRC"
  mkdir -p "$SRC"
  tar -xJf "$TARBALL" -C "$SRC" --strip-components=1
  echo "$TARBALL" >"$SRC/.unpacked"
fi

cd "$SRC"
# allnoconfig with the fragment as the values that allnoconfig must keep (KCONFIG_ALLCONFIG):
# options the fragment names are set as given; everything else stays off.
make -s KCONFIG_ALLCONFIG="$FRAGMENT" allnoconfig >&2
missing=0
while IFS= read -r line; do
  [[ $line =~ ^(CONFIG_[A-Z0-9_]+)=(.*)$ ]] || continue
  if ! grep -qx "${BASH_REMATCH[1]}=${BASH_REMATCH[2]}" .config; then
    echo "build-minimal-kernel: warning: ${BASH_REMATCH[1]}=${BASH_REMATCH[2]} did not stick" >&2
    missing=1
  fi
done <"$FRAGMENT"
grep -qx CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES=y .config ||
  die "CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES is not set in the resulting .config"
(( missing == 0 )) || echo "build-minimal-kernel: some fragment options depend on others; see above" >&2

echo "build-minimal-kernel: building bzImage with -j$JOBS (about 11 minutes on 2 cores)" >&2
make -s -j"$JOBS" bzImage >&2
cp arch/x86/boot/bzImage "$OUT_DIR/bzImage.tmp"
cp .config "$OUT_DIR/config"
mv "$OUT_DIR/bzImage.tmp" "$OUT_DIR/bzImage"
echo "$fragment_sum" >"$OUT_DIR/fragment.sha256"
echo "$OUT_DIR/bzImage"
