#!/bin/bash
# Installs everything vmm needs to build and test on a fresh Debian 12 (run as root).
# Idempotent: packages already installed are left alone; apt-get update only when needed.
set -euo pipefail

PACKAGES=(
  # build
  cmake ninja-build ccache g++ clang clang-format clang-tidy pkg-config linux-libc-dev libclang-rt-14-dev
  libcli11-dev libspdlog-dev libboost-dev libfdt-dev libgtest-dev libgmock-dev libseccomp-dev
  nlohmann-json3-dev liburing-dev libslirp-dev
  # unit tests decode the ACPI tables (iasl), SMBIOS tables (dmidecode) and arm64 device trees
  # (dtc) vmm builds
  acpica-tools dmidecode device-tree-compiler
  # nested-KVM sandbox and guest test assets
  qemu-system-x86 busybox-static cpio gzip zstd xz-utils e2fsprogs kmod file libc6-dev git
  iproute2 util-linux procps
  # the Debian 12 systemd guest image (firmware/build-debian-image.sh)
  mmdebstrap
  # the minimal guest kernel (firmware/build-minimal-kernel.sh builds it from linux-source-6.1)
  linux-source-6.1 make bc flex bison libelf-dev libssl-dev
  # peers used by the container and network tests, and the OCI clients that drive vmm's runtime
  runc iperf3 curl podman containerd
  # `vmm bench`: crun beside runc, and librsvg's rsvg-convert, which renders its chart in tests
  crun librsvg2-bin
  # the instance manager's bridge: DHCP and DNS (dnsmasq), NAT (iptables)
  dnsmasq-base iptables
  # `vmm farm`: TOML farm files, JUnit XML reports, and xmllint validating them in the tests
  libtomlplusplus-dev libpugixml-dev libxml2-utils
  # the arm64 code's cross-compile check (tests/cross/check-arm64.sh)
  g++-aarch64-linux-gnu
)

[[ $(id -u) == 0 ]] || { echo "install-deps: run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
# A fresh image may have no package lists; an old list may name versions no longer served.
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
