#!/bin/bash
# vmm as the OCI runtime of real clients: podman and containerd (ctr) drive vmm (through a
# runc-named symlink) and runc on the same locally built busybox image, scenario by scenario,
# and every scenario must give the same exit status and output with both (and the expected
# ones). Needs root, podman and containerd (tests/install-deps.sh installs them); says SKIPPED
# and exits 77 when they are missing.
#
#   tests/container/oci_clients.sh VMM_BINARY
set -uo pipefail

vmm=${1:?usage: oci_clients.sh VMM_BINARY}
here=$(cd "$(dirname "$0")/../.." && pwd)
for tool in podman ctr containerd runc; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIPPED: $tool is not installed (tests/install-deps.sh installs it)" >&2
    exit 77
  fi
done
[ "$(id -u)" = 0 ] || { echo "SKIPPED: needs root" >&2; exit 77; }

work=$(mktemp -d /tmp/vmm-oci-clients-XXXXXX)
containerd_pid=
cleanup() {
  [ -n "$containerd_pid" ] && kill "$containerd_pid" 2>/dev/null && wait "$containerd_pid" 2>/dev/null
  podman_ rm -af >/dev/null 2>&1
  umount -R "$work"/storage 2>/dev/null
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
mkdir -p "$work/bin" && ln -s "$vmm" "$work/bin/vmm-runc"  # the name makes it runc

# Private storage and state: nothing of the host's podman or containerd is touched.
podman_() {
  podman --root "$work/storage" --runroot "$work/run" --storage-driver vfs \
    --cgroup-manager cgroupfs --events-backend file "$@"
}
# The rlimits podman asks for by default need CAP_SYS_RESOURCE above the host's hard limits.
limits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

"$here/firmware/build-busybox-rootfs.sh" "$work/rootfs" >/dev/null || exit 1
tar -C "$work/rootfs" -cf "$work/rootfs.tar" . || exit 1
podman_ import "$work/rootfs.tar" localhost/vmm-test-busybox:latest >/dev/null || exit 1
podman_ save --format oci-archive -o "$work/image.tar" localhost/vmm-test-busybox:latest \
  >/dev/null 2>&1 || exit 1

failures=0
# same NAME EXPECTED_STATUS EXPECTED_OUTPUT -- COMMAND with @RT@ for the runtime path:
# runs it with runc and with vmm; both must give EXPECTED_STATUS and EXPECTED_OUTPUT.
same() {
  local name=$1 want_status=$2 want_out=$3
  shift 4
  local rt out status
  for rt in runc "$work/bin/vmm-runc"; do
    local cmd=("${@//@RT@/$rt}")
    local who=runc
    [ "$rt" = runc ] || who=vmm
    local try
    for try in 1 2; do
      out=$("${cmd[@]}" 2>"$work/stderr")
      status=$?
      [ "$status" = "$want_status" ] && [ "$out" = "$want_out" ] && break
      # ctr can lose a short-lived task's output to a race of its own (seen with runc too
      # under load): one retry, said out loud.
      [ "$try" = 1 ] && echo "RETRY $name with $who: status $status, output '$out'" >&2
    done
    if [ "$status" != "$want_status" ] || [ "$out" != "$want_out" ]; then
      echo "FAIL $name with $who: status $status (want $want_status), output '$out' (want '$want_out')" >&2
      sed 's/^/    /' "$work/stderr" >&2
      failures=$((failures + 1))
    else
      echo "ok   $name with $who"
    fi
  done
}

img=localhost/vmm-test-busybox:latest
# podman
same "podman run" 0 "hello" -- podman_ --runtime @RT@ run --rm --network none "${limits[@]}" $img echo hello
same "podman exit status" 3 "" -- podman_ --runtime @RT@ run --rm --network none "${limits[@]}" $img sh -c 'exit 3'
same "podman missing command" 127 "" -- podman_ --runtime @RT@ run --rm --network none "${limits[@]}" $img /nonexistent
same "podman default network + sysctl" 0 "0	0" -- podman_ --runtime @RT@ run --rm "${limits[@]}" $img cat /proc/sys/net/ipv4/ping_group_range
same "podman --read-only --tmpfs" 0 "x" -- podman_ --runtime @RT@ run --rm --network none "${limits[@]}" --read-only --tmpfs /data $img sh -c 'touch /data/x && ls /data'
same "podman --cpuset-cpus" 0 "Cpus_allowed_list:	0" -- podman_ --runtime @RT@ run --rm --network none "${limits[@]}" --cpuset-cpus 0 $img grep Cpus_allowed_list /proc/self/status
same "podman --memory" 0 "67108864" -- podman_ --runtime @RT@ run --rm --network none "${limits[@]}" --memory 64m $img cat /sys/fs/cgroup/memory/memory.limit_in_bytes
lifecycle_podman() {  # detached run, exec, pause, unpause, rm
  local rt=$1 name=life-$RANDOM
  podman_ --runtime "$rt" run -d --name "$name" --network none "${limits[@]}" $img sleep 60 >/dev/null || return 1
  podman_ --runtime "$rt" exec "$name" echo exec-ok || return 1
  podman_ --runtime "$rt" pause "$name" >/dev/null || return 1
  podman_ --runtime "$rt" inspect -f '{{.State.Status}}' "$name" || return 1
  podman_ --runtime "$rt" unpause "$name" >/dev/null || return 1
  podman_ --runtime "$rt" inspect -f '{{.State.Status}}' "$name" || return 1
  podman_ --runtime "$rt" rm -f -t 0 "$name" >/dev/null || return 1
}
same "podman exec/pause/unpause" 0 $'exec-ok\npaused\nrunning' -- lifecycle_podman @RT@

# containerd, on a private socket and state directory
cat >"$work/containerd.toml" <<EOF
version = 2
root = "$work/containerd/root"
state = "$work/containerd/state"
[grpc]
  address = "$work/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  disable_cgroup = true
EOF
containerd --config "$work/containerd.toml" >"$work/containerd.log" 2>&1 &
containerd_pid=$!
ctr_() { ctr -a "$work/containerd.sock" -n vmm-test "$@"; }
for _ in $(seq 100); do ctr_ version >/dev/null 2>&1 && break; sleep 0.1; done
ctr_ images import --all-platforms "$work/image.tar" >/dev/null || { echo "ctr import failed" >&2; exit 1; }
same "ctr run" 0 "hello" -- ctr_ run --rm --runc-binary @RT@ $img c-$RANDOM echo hello
same "ctr exit status" 5 "" -- ctr_ run --rm --runc-binary @RT@ $img c-$RANDOM sh -c 'exit 5'
lifecycle_ctr() {  # detached task, exec, pause, resume, kill, delete
  local rt=$1 id=t-$RANDOM
  ctr_ run -d --runc-binary "$rt" $img "$id" sleep 60 >/dev/null || return 1
  ctr_ task exec --exec-id e1 "$id" echo exec-ok || return 1
  ctr_ task pause "$id" || return 1
  ctr_ task ls | awk -v id="$id" '$1 == id {print $3}'
  ctr_ task resume "$id" || return 1
  ctr_ task ls | awk -v id="$id" '$1 == id {print $3}'
  ctr_ task kill -s KILL "$id" || return 1
  for _ in $(seq 50); do ctr_ task ls | grep -q "^$id .*STOPPED" && break; sleep 0.1; done
  ctr_ task delete "$id" >/dev/null || return 1
  ctr_ container delete "$id" || return 1
}
same "ctr task exec/pause/resume" 0 $'exec-ok\nPAUSED\nRUNNING' -- lifecycle_ctr @RT@

if ((failures > 0)); then
  echo "$failures scenario(s) failed" >&2
  exit 1
fi
echo "every scenario gives the same result with vmm and with runc"
