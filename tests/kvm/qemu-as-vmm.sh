#!/bin/bash
# A stand-in for `vmm run` built on QEMU/KVM, with the same flags and exit statuses, so the KVM
# test suite itself can be checked against a known-good VMM:
#   VMM_BIN=tests/kvm/qemu-as-vmm.sh tests/sandbox/vmm-sandbox run -- build/tests/kvm/vmm_kvm_tests
# Exit statuses as vmm: guest reboot 0, debug-exit write of v to port 0xf4 (v<<1)|1,
# --timeout 124, usage error 2.
set -euo pipefail

[[ ${1:-} == run ]] || { echo "usage: $0 run --kernel PATH [options]" >&2; exit 2; }
shift
kernel="" initrd="" cmdline="" cpus=1 memory=512M timeout=0
devices=()
# --disk PATH[,readonly=on][,snapshot=on][,...] (other disk options are ignored)
add_disk() {
  local path=${1%%,*} opts=""
  [[ $1 == *readonly=on* ]] && opts=",readonly=on"
  [[ $1 == *snapshot=on* ]] && opts+=",snapshot=on"
  devices+=(-drive "file=$path,format=raw,if=none,id=disk${#devices[@]}$opts"
            -device "virtio-blk-pci,drive=disk${#devices[@]}")
}
# --net tap=NAME[,mac=MAC] | user[,hostfwd=tcp:[ADDR]:PORT-:GUESTPORT]...
add_net() {
  local id=net${#devices[@]} mac="" netdev="" opt
  IFS=, read -r -a opts <<<"$1"
  for opt in "${opts[@]}"; do
    case $opt in
      tap=?*) netdev="tap,id=$id,ifname=${opt#tap=},script=no,downscript=no" ;;
      user) netdev="user,id=$id" ;;
      hostfwd=*) netdev+=",$opt" ;;
      mac=*) mac=",$opt" ;;
      *) echo "qemu-as-vmm: bad --net option '$opt'" >&2; exit 2 ;;
    esac
  done
  [[ -n $netdev ]] || { echo "qemu-as-vmm: --net needs tap=NAME or user" >&2; exit 2; }
  devices+=(-netdev "$netdev" -device "virtio-net-pci,netdev=$id$mac")
}
while (($#)); do
  case $1 in
    --kernel) kernel=$2; shift 2 ;;
    --initrd) initrd=$2; shift 2 ;;
    --cmdline) cmdline=$2; shift 2 ;;
    --cpus) cpus=$2; shift 2 ;;
    --memory) memory=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --log-level) shift 2 ;;
    --disk) add_disk "$2"; shift 2 ;;
    --net) add_net "$2"; shift 2 ;;
    *) echo "qemu-as-vmm: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -n $kernel ]] || { echo "qemu-as-vmm: --kernel is required" >&2; exit 2; }

args=(-enable-kvm -cpu host -smp "$cpus" -m "$memory" -nodefaults -no-reboot -display none
      -chardev stdio,id=console,signal=off -serial chardev:console
      -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel "$kernel" -append "$cmdline")
[[ -n $initrd ]] && args+=(-initrd "$initrd")
args+=("${devices[@]}")
if ((timeout > 0)); then
  exec timeout -k 5 "$timeout" qemu-system-x86_64 "${args[@]}"
fi
exec qemu-system-x86_64 "${args[@]}"
