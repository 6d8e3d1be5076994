#!/bin/bash
# A Debian 12 system container as an LXD user runs one: the systemd image of
# firmware/build-debian-image.sh imported into `vmm daemon`, launched as a container instance
# that boots its own init. systemd must reach multi-user with no failed unit, `vmm exec` must
# work in it, `vmm stop` must end it cleanly (systemd's own halt) within 10 s, and it must
# boot again from the same root. Needs root and mmdebstrap (the image is built once, cached by
# its inputs); says SKIPPED and exits 77 without them.
#
#   tests/instances/system_container.sh VMM_BINARY
set -uo pipefail

vmm=${1:?usage: system_container.sh VMM_BINARY}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "SKIPPED: needs root" >&2; exit 77; }
command -v mmdebstrap >/dev/null || { echo "SKIPPED: mmdebstrap is not installed" >&2; exit 77; }

image=$("$src/firmware/build-debian-image.sh") || { echo "FAIL: cannot build the Debian image" >&2; exit 1; }

# `vmm image build debian/12` keeps its mmdebstrap tarball beside the other guest assets.
export VMM_IMAGE_CACHE=${VMM_CACHE_DIR:-$HOME/.cache/vmm}/images
work=$(mktemp -d /tmp/vmm-system-XXXXXX)
sock=$work/vmm.sock
state=$work/state
export VMM_SOCKET=$sock
daemon_pid=
failures=0
# Other managers' instances on this host, to tell ours apart.
cgroups_before=$(find /sys/fs/cgroup -maxdepth 3 -type d -path '*vmm.instances-*/half-*' 2>/dev/null | sort)

failed_checks=()
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
  failed_checks+=("$*")
}
pass() { echo "ok: $*"; }
expect_eq() { # expect_eq DESCRIPTION EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected [$2], got [$3]"; fi
}
now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }

cleanup() {
  if [ -n "$daemon_pid" ]; then
    for n in $("$vmm" list --format csv 2>/dev/null | cut -d, -f1); do
      "$vmm" delete --force "$n" >/dev/null 2>&1
    done
    kill -TERM "$daemon_pid" 2>/dev/null
    wait "$daemon_pid" 2>/dev/null
  fi
  grep " $work" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 1' TERM INT

start_daemon() {
  "$vmm" daemon --foreground --socket "$sock" --state-dir "$state" --group "" --bridge "" \
    >>"$work/daemon.log" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 100); do
    "$vmm" list >/dev/null 2>&1 && break
    sleep 0.1
  done
}
start_daemon

"$vmm" image import "$image" --alias debian-vm-image >/dev/null || { fail "import $image"; exit 1; }

# What systemd says of the boot once it has finished (running, degraded...), within 60 s; it
# cannot answer before its bus is up.
wait_running() {
  local answer
  for _ in $(seq 120); do
    answer=$("$vmm" exec "${deb_name:-deb}" -- systemctl is-system-running --wait 2>/dev/null |
      tail -n1)
    case $answer in running | degraded | maintenance | stopping) break ;; esac
    sleep 0.5
  done
  echo "$answer"
}

start=$(now)
"$vmm" launch debian-vm-image deb >/dev/null || fail "launch"
state_text=$(wait_running)
echo "launch to running: $(elapsed "$start" "$(now)") s"
expect_eq "systemd reaches multi-user" running "$state_text"
expect_eq "no failed unit" "" "$("$vmm" exec deb -- systemctl --failed --plain --no-legend)"
expect_eq "the host name is the instance's" deb "$("$vmm" exec deb -- hostname)"
expect_eq "PID 1 is systemd" systemd "$("$vmm" exec deb -- cat /proc/1/comm)"
expect_eq "systemd knows it is in a container" container-other \
  "$("$vmm" exec deb -- systemd-detect-virt --container)"
expect_eq "the container's cgroups are its own and writable" yes \
  "$("$vmm" exec deb -- sh -c 'mkdir /sys/fs/cgroup/systemd/probe && rmdir /sys/fs/cgroup/systemd/probe && echo yes')"
expect_eq "/run is a tmpfs" tmpfs "$("$vmm" exec deb -- stat -f -c %T /run)"
expect_eq "logind runs" active "$("$vmm" exec deb -- systemctl is-active systemd-logind)"
expect_eq "/dev/console is a terminal" yes \
  "$("$vmm" exec deb -- sh -c 'stty -F /dev/console >/dev/null && echo yes')"
expect_eq "a getty serves the console" active \
  "$("$vmm" exec deb -- systemctl is-active console-getty)"
console=$("$vmm" console deb --show-log)  # whole, not piped: grep -q would cut it short
if grep -q "Welcome to.*Debian" <<<"$console"; then
  pass "the console log shows systemd's boot"
else
  fail "the console log lacks systemd's welcome: $(head -c 2000 <<<"$console")"
fi
keepers() { pgrep -f "console-keeper $state/instances/deb/" | wc -l; }
expect_eq "one console keeper" 1 "$(keepers)"
"$vmm" exec deb -- sh -c 'echo kept > /root/note'

pid=$("$vmm" info deb | awk '/^PID:/ {print $2}')
start=$(now)
"$vmm" stop deb --timeout 30 || fail "stop"
took=$(elapsed "$start" "$(now)")
echo "stop took $took s"
if python3 -c "import sys; sys.exit(0 if $took < 10 else 1)"; then
  pass "stop ends it within 10 s"
else
  fail "stop took $took s"
fi
expect_eq "stopped" STOPPED "$("$vmm" list --format csv | awk -F, '$1 == "deb" {print $2}')"
# Within 10 s of a 30 s timeout: systemd's own halt ended it, not the kill after the timeout.
# Alive and not a zombie (an orphan's reaping is up to the host's init).
alive() { [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]; }
if [ -z "$pid" ] || [ "$pid" = 0 ]; then fail "info shows no PID"; fi
if alive "$pid"; then fail "init $pid still runs"; fi
for _ in $(seq 20); do [ "$(keepers)" = 0 ] && break; sleep 0.1; done
expect_eq "the console keeper ends with the container" 0 "$(keepers)"
hash_dir=$(find /sys/fs/cgroup/systemd -maxdepth 2 -type d -path '*vmm.instances-*/deb' 2>/dev/null)
expect_eq "no cgroup left in systemd's hierarchy" "" "$hash_dir"

"$vmm" start deb || fail "start again"
state_text=$(wait_running)
expect_eq "boots again" running "$state_text"
expect_eq "the file survives stop and start" kept "$("$vmm" exec deb -- cat /root/note)"

"$vmm" delete --force deb || fail "delete"
expect_eq "delete leaves no mount" "" "$(grep " $state" /proc/mounts)"

# The image as a new user gets it: built by the daemon from Debian's registry (mmdebstrap;
# minutes the first time, then cached by its inputs).
if "$vmm" image build debian/12 >/dev/null; then
  pass "image build debian/12"
  "$vmm" launch debian/12 built >/dev/null || fail "launch the built image"
  deb_name=built
  state_text=$(wait_running)
  expect_eq "the built image reaches multi-user" running "$state_text"
  expect_eq "with no failed unit" "" "$("$vmm" exec built -- systemctl --failed --plain --no-legend)"
  expect_eq "its host name is the instance's" built "$("$vmm" exec built -- hostname)"
  "$vmm" delete --force built || fail "delete built"
else
  fail "image build debian/12"
fi

# The daemon killed (SIGKILL) in the middle of launches, then started again: what it left
# half-made is removed, and nothing of it (mounts, cgroups, processes) is left behind.
kill_daemon_when() { # kill_daemon_when PATTERN: SIGKILL as soon as a process matches
  for _ in $(seq 600); do
    pgrep -f "$1" >/dev/null && break
    sleep 0.01
  done
  kill -KILL "$daemon_pid"
  wait "$daemon_pid" 2>/dev/null
}
# A VM instance's disk is made from the image with mkfs.ext4 -d: killed while it is written.
"$vmm" launch debian/12 half-vm --vm >/dev/null 2>&1 &
launch_pid=$!
kill_daemon_when "mkfs.ext4.*$state/instances/half-vm"
wait "$launch_pid"
expect_eq "a launch cut short by the daemon's death fails" 1 "$?"
# A container instance: killed once its console keeper waits, before or while init starts.
start_daemon
"$vmm" launch debian/12 half-ct >/dev/null 2>&1 &
launch_pid=$!
kill_daemon_when "console-keeper $state/instances/half-ct/"
wait "$launch_pid"
for _ in $(seq 100); do  # the runtime the daemon had started finishes on its own
  pgrep -f "oci --root $state/containers run" >/dev/null || break
  sleep 0.1
done
for _ in $(seq 100); do pgrep -f "mkfs.ext4.*$state" >/dev/null || break; sleep 0.1; done
start_daemon
expect_eq "the half-made VM is gone" "" "$("$vmm" list --format csv | grep -E '^half-vm')"
# The container was made (create is its own request) and killed while starting: the next
# daemon finishes it, running as asked, or it is gone.
if "$vmm" list --format csv | grep -q '^half-ct,'; then
  deb_name=half-ct
  expect_eq "the interrupted start is finished" "RUNNING running" \
    "$("$vmm" list --format csv | grep '^half-ct,' | cut -d, -f2) $(wait_running)"
  expect_eq "with one console keeper" 1 "$(pgrep -f "console-keeper $state/instances/half-ct/" | wc -l)"
  "$vmm" delete --force half-ct || fail "delete half-ct"
fi
expect_eq "nothing of theirs is left in the state" "" "$(ls "$state/instances" | grep half)"
expect_eq "no mount of theirs is left" "" "$(grep "$state/instances/half" /proc/mounts)"
expect_eq "no cgroup of theirs is left" "$cgroups_before" \
  "$(find /sys/fs/cgroup -maxdepth 3 -type d -path '*vmm.instances-*/half-*' 2>/dev/null | sort)"
for _ in $(seq 50); do pgrep -f "$state/instances/half" >/dev/null || break; sleep 0.1; done
expect_eq "no process of theirs is left" "" "$(pgrep -af "$state/instances/half")"
expect_eq "the daemon says what it removed" 1 \
  "$(grep -c 'removing what an interrupted create left' "$work/daemon.log")"

# The same image with `vmm container run` in the foreground, as a new user first tries it: the
# init is recognized, boots, and SIGTERM to vmm halts it (systemd alone would re-execute).
name=sys-$$
"$vmm" container run --image "$image" --name "$name" -- /sbin/init </dev/null \
  >"$work/run.log" 2>&1 &
run_pid=$!
init=
for _ in $(seq 100); do
  init=$(pgrep -P "$run_pid" -x systemd) && break
  sleep 0.1
done
answer=
for _ in $(seq 120); do
  answer=$(nsenter -t "$init" -m -p -u -i -n systemctl is-system-running 2>/dev/null)
  case $answer in running | degraded) break ;; esac
  sleep 0.5
done
expect_eq "vmm container run boots systemd" running "$answer"
start=$(now)
kill -TERM "$run_pid"
for _ in $(seq 100); do alive "$run_pid" || break; sleep 0.1; done
took=$(elapsed "$start" "$(now)")
if alive "$run_pid"; then
  fail "SIGTERM did not end vmm container run within 10 s"
  kill -KILL "$run_pid"
else
  pass "SIGTERM halts the system container ($took s)"
fi
wait "$run_pid"
expect_eq "its exit status is the halt's" 0 "$?"
expect_eq "no state is left" "" "$(ls -d /run/vmm/container/"$name" 2>/dev/null)"
expect_eq "no cgroup is left" "" "$(ls -d /sys/fs/cgroup/*/vmm/"$name" 2>/dev/null)"

echo "--- daemon log"
cat "$work/daemon.log"
if ((failures > 0)); then
  echo "--- console of deb"
  cat "$state/instances/deb/console.log" 2>/dev/null
  echo "--- failed checks (repeated here, where a shortened log still shows them)"
  printf 'FAIL: %s\n' "${failed_checks[@]}"
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
