#!/bin/bash
# The instance manager as a user meets it: `vmm daemon` on a private socket and state
# directory, the lxc-like CLI and curl on the REST API. Two images (one built, one imported from
# LXD's unified tarball), two container instances, exec, stop/start, snapshot/restore, daemon
# restarts (instances keep running; autostart), 20 concurrent launches through the API, every
# error status (a VM instance without a kernel among them; the KVM suite boots VM instances),
# and delete leaving nothing behind. Needs root; says SKIPPED and exits 77
# without it or without curl.
#
#   tests/instances/workflow.sh VMM_BINARY
set -uo pipefail

vmm=${1:?usage: workflow.sh VMM_BINARY}
[ "$(id -u)" = 0 ] || { echo "SKIPPED: needs root" >&2; exit 77; }
command -v curl >/dev/null || { echo "SKIPPED: curl is not installed" >&2; exit 77; }

work=$(mktemp -d /tmp/vmm-instances-XXXXXX)
chmod 755 "$work"  # dnsmasq (as nobody) reads its hosts file under the state directory
sock=$work/vmm.sock
state=$work/state
export VMM_SOCKET=$sock
# The managed bridge under a test name and subnet; removed at the end.
bridge=vmmtest$(printf '%04x' $((RANDOM % 65536)))
subnet=10.213.$((RANDOM % 200 + 20)).1/24
gateway=${subnet%/24}
daemon_pid=
failures=0
# The instances' parent cgroups of other managers on this host, to tell ours apart.
parents_before=$(ls -d /sys/fs/cgroup/*/vmm.instances-* 2>/dev/null | sort)

failed_checks=()
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
  failed_checks+=("$*")
}
pass() { echo "ok: $*"; }
check() { # check DESCRIPTION COMMAND...: the command must succeed
  local what=$1; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
expect_eq() { # expect_eq DESCRIPTION EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected [$2], got [$3]"; fi
}

start_daemon() {
  # No kernel for VM instances, even where the cache has one: the KVM suite boots those.
  VMM_CACHE_DIR=$work/no-cache "$vmm" daemon --foreground --socket "$sock" --state-dir "$state" --group "" \
    --bridge "$bridge" --subnet "$subnet" \
    >>"$work/daemon.log" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 100); do
    [ -S "$sock" ] && curl -s --unix-socket "$sock" http://vmm/1.0 >/dev/null && return 0
    sleep 0.1
  done
  echo "the daemon did not come up:" >&2
  cat "$work/daemon.log" >&2
  return 1
}
stop_daemon() {
  [ -n "$daemon_pid" ] || return 0
  kill -TERM "$daemon_pid" 2>/dev/null
  wait "$daemon_pid" 2>/dev/null
  daemon_pid=
}
cleanup() {
  if [ -n "$daemon_pid" ]; then
    for n in $("$vmm" list --format csv 2>/dev/null | cut -d, -f1); do
      "$vmm" delete --force "$n" >/dev/null 2>&1
    done
  fi
  stop_daemon
  grep " $work" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r -n1 umount -l 2>/dev/null
  ip link del "$bridge" 2>/dev/null
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 1' TERM INT

# api METHOD PATH [BODY]: prints "STATUS BODY".
api() {
  local out
  out=$(curl -s --unix-socket "$sock" -X "$1" -w '\n%{http_code}' \
    ${3:+-H 'Content-Type: application/json' --data "$3"} "http://vmm$2")
  echo "$(tail -n1 <<<"$out") $(sed '$d' <<<"$out")"
}
json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# --- no daemon yet: a clear error naming the socket and how to start one
out=$("$vmm" list 2>&1); rc=$?
check "list without a daemon fails" test "$rc" -ne 0
check "and says how to start the daemon" grep -q "vmm daemon" <<<"$out"

start_daemon || exit 1

# --- images: one built from Debian's busybox-static, one from LXD's unified tarball
check "image build busybox" "$vmm" image build busybox

# --- a VM instance needs a kernel, which this daemon was not given
out=$("$vmm" launch busybox vm-nokernel --vm --network none 2>&1); rc=$?
expect_eq "launch --vm without a kernel: status 2" 2 "$rc"
check "and says how to give the daemon one" grep -q "start the daemon with --kernel" <<<"$out"
check "and creates nothing" test ! -e "$state/instances/vm-nokernel"
out=$("$vmm" launch busybox c-disk --disk-size 1GiB 2>&1); rc=$?
expect_eq "a container with root.size: status 2" 2 "$rc"
check "and says only VMs have a root disk" grep -q "only virtual machines have a root disk" <<<"$out"
mkdir -p "$work/unified"
"$vmm" oci --version >/dev/null  # the binary runs at all
cp -a "$state/images/$(ls "$state/images" | grep -E '^[0-9a-f]{64}$' | head -1)/rootfs" \
  "$work/unified/rootfs"
echo "second image" >"$work/unified/rootfs/etc/motd"
cat >"$work/unified/metadata.yaml" <<'YAML'
architecture: x86_64
creation_date: 1700000000
properties:
  description: Second busybox, from a unified tarball
  os: busybox
  release: "2"
YAML
tar -C "$work/unified" -czf "$work/unified.tar.gz" metadata.yaml rootfs
check "image import of a unified tarball" "$vmm" image import "$work/unified.tar.gz" --alias second
images=$("$vmm" image list --format csv)
check "image list shows busybox" grep -q "^busybox," <<<"$images"
check "image list shows the imported one with its description" \
  grep -q "^second,.*Second busybox, from a unified tarball" <<<"$images"
mkdir -p "$work/notroot/data"
out=$("$vmm" image import "$work/notroot" --alias junk 2>&1); rc=$?
expect_eq "importing a tree that is not a root file system is a usage error" 2 "$rc"
check "and says so" grep -q "not a root file system" <<<"$out"
check "and keeps nothing" test "$(ls "$state/images" | grep -c -v aliases.json)" = 2

# --- two instances
check "launch busybox one" "$vmm" launch busybox one
check "launch second two --memory 256MiB" "$vmm" launch second two --memory 256MiB
listing=$("$vmm" list --format csv)
check "list shows one running" grep -q "^one,RUNNING,CONTAINER," <<<"$listing"
check "list shows two running" grep -q "^two,RUNNING,CONTAINER," <<<"$listing"
expect_eq "json list has both" 2 "$("$vmm" list --format json | json_get 'len(d)')"
expect_eq "the instance runs its image's init as PID 1" "init" \
  "$("$vmm" exec one -- cat /proc/1/comm)"
expect_eq "each instance sees its own image" "second image" "$("$vmm" exec two -- cat /etc/motd)"

# --- the managed bridge: addresses in the list, instance to instance, DNS by name
ip_of() { curl -s --unix-socket "$sock" "http://vmm/1.0/instances/$1/state" |
  json_get 'd["metadata"]["network"]["eth0"]["addresses"][0]["address"]'; }
ip_one=$(ip_of one)
ip_two=$(ip_of two)
check "one has an address on the bridge's subnet" grep -q "^${gateway%.1}\." <<<"$ip_one"
check "two has another" test -n "$ip_two" -a "$ip_two" != "$ip_one"
check "list shows one's address" grep -q "^one,RUNNING,CONTAINER,$ip_one (eth0)," <<<"$listing"
check "one reaches two" "$vmm" exec one -- ping -c1 -W5 "$ip_two"
check "two reaches the gateway" "$vmm" exec two -- ping -c1 -W5 "$gateway"
resolved=
for _ in $(seq 10); do  # dnsmasq rereads its hosts on SIGHUP, a moment after a launch
  resolved=$("$vmm" exec one -- nslookup two 2>&1)
  grep -q "$ip_two" <<<"$resolved" && break
  sleep 0.5
done
check "the bridge's DNS knows two by name" grep -q "$ip_two" <<<"$resolved"
grep -q "$ip_two" <<<"$resolved" || echo "$resolved"
mac_one=$("$vmm" exec one -- cat /sys/class/net/eth0/address)
mac_two=$("$vmm" exec two -- cat /sys/class/net/eth0/address)
check "MACs are in LXD's range and differ" \
  bash -c "[[ '$mac_one' == 00:16:3e:* && '$mac_two' == 00:16:3e:* && '$mac_one' != '$mac_two' ]]"
check "launch --network none" "$vmm" launch busybox lonely --network none
expect_eq "a --network none instance has loopback only" "lo" \
  "$("$vmm" exec lonely -- ls /sys/class/net | tr -d ' \n')"
check "delete --force lonely" "$vmm" delete --force lonely
veths="$(curl -s --unix-socket "$sock" http://vmm/1.0/instances/one/state | json_get 'd["metadata"]["network"]["eth0"]["host_name"]')"
check "one's host veth is on the bridge" bash -c "ip -o link show dev $veths | grep -q 'master $bridge'"

# --- exec: files persist, statuses pass through
check "exec writes a file" "$vmm" exec one -- sh -c 'echo hello > /root/hi.txt'
expect_eq "the next exec reads it" "hello" "$("$vmm" exec one -- cat /root/hi.txt)"
"$vmm" exec one -- sh -c 'exit 7'; expect_eq "exec passes the exit status" 7 "$?"
"$vmm" exec one -- /no/such/command 2>/dev/null
expect_eq "a missing command is 127" 127 "$?"
expect_eq "exec --env and --cwd" "bar /tmp" \
  "$("$vmm" exec one --env FOO=bar --cwd /tmp -- sh -c 'echo $FOO $(pwd)')"
expect_eq "stderr is kept apart" "to-stderr" \
  "$("$vmm" exec one -- sh -c 'echo to-stderr >&2' 2>&1 >/dev/null)"
expect_eq "exec streams stdin" "piped through" "$(echo 'piped through' | "$vmm" exec one -- cat)"
"$vmm" exec one -- /etc 2>/dev/null; expect_eq "a directory is 126" 126 "$?"
"$vmm" exec -T one -- tty >/dev/null; expect_eq "-T: no pty" 1 "$?"
# At a terminal (script(1) makes one): a pty in the instance, as lxc exec gives, and a shell
# that reads what is typed; its exit status comes back.
# (At its stdin's EOF, script types one, which the pty may echo before the output: ^@.)
tty_out=$(script -qec "$vmm exec one -- tty" /dev/null </dev/null | tr -d '\r')
check "exec at a terminal gets a pty ($tty_out)" grep -q '/dev/pts/' <<<"$tty_out"
shell_out=$(printf 'echo $((6*7))\nexit 3\n' | script -qec "$vmm exec one -- /bin/sh" /dev/null)
expect_eq "an interactive shell's status" 3 "$?"
check "the shell ran what was typed" grep -q '^42' <<<"$(tr -d '\r' <<<"$shell_out")"

# --- file push and pull: bytes, owner and mode; symlinks stay inside the instance
head -c 100000 /dev/urandom >"$work/blob"
chmod 0640 "$work/blob"
check "file push" "$vmm" file push "$work/blob" one/srv/data/
check "file pull" "$vmm" file pull one/srv/data/blob "$work/blob.back"
check "pulled bytes are pushed bytes" cmp "$work/blob" "$work/blob.back"
expect_eq "the local mode came along" "640 640" \
  "$("$vmm" exec one -- stat -c %a /srv/data/blob) $(stat -c %a "$work/blob.back")"
echo "from stdin" | "$vmm" file push - one/root/owned --uid 1000 --gid 100 --mode 0600
expect_eq "push from stdin with owner and mode" "1000 100 600 from stdin" \
  "$("$vmm" exec one -- stat -c '%u %g %a' /root/owned) $("$vmm" exec one -- cat /root/owned)"
expect_eq "pull to stdout" "from stdin" "$("$vmm" file pull one/root/owned -)"
"$vmm" exec one -- sh -c 'echo inside > /etc/marker; ln -s ../../../../../etc/marker /root/up'
expect_eq "a symlink out of the root stays inside" "inside" "$("$vmm" file pull one/root/up -)"
echo host >"$work/victim"
"$vmm" exec one -- ln -s "$work/victim" /root/victim
echo pushed | "$vmm" file push - one/root/victim 2>/dev/null
expect_eq "a push through a link to a host path leaves the host's file" "host" "$(cat "$work/victim")"
"$vmm" file pull one/no/such - 2>/dev/null; expect_eq "pull of a missing file is 2" 2 "$?"
check "file delete" "$vmm" file delete one/root/owned
"$vmm" exec one -- test -e /root/owned; expect_eq "the deleted file is gone" 1 "$?"
expect_eq "the files endpoint gives LXD's headers" "X-LXD-mode: 0640" \
  "$(curl -s --unix-socket "$sock" -D - -o /dev/null 'http://vmm/1.0/instances/one/files?path=/srv/data/blob' | grep -i x-lxd-mode | tr -d '\r')"

# --- stop/start keeps the file; pause/resume
check "stop one" "$vmm" stop one
expect_eq "one is stopped" "one,STOPPED" "$("$vmm" list --format csv | grep ^one, | cut -d, -f1,2)"
check "stopped: its root is unmounted" bash -c "! grep -q '$state/instances/one/rootfs' /proc/mounts"
echo stopped | "$vmm" file push - one/root/while-stopped
expect_eq "push and pull on a stopped instance" "stopped" "$("$vmm" file pull one/root/while-stopped -)"
check "its root is unmounted again" bash -c "! grep -q '$state/instances/one/rootfs' /proc/mounts"
check "start one" "$vmm" start one
expect_eq "the file survived stop/start" "hello" "$("$vmm" exec one -- cat /root/hi.txt)"
expect_eq "so did the pushed one" "stopped" "$("$vmm" exec one -- cat /root/while-stopped)"
expect_eq "and the address too" "$ip_one" "$(ip_of one)"
check "pause one" "$vmm" pause one
expect_eq "paused shows FROZEN" "FROZEN" "$("$vmm" list --format csv | grep ^one, | cut -d, -f2)"
check "resume one" "$vmm" resume one

# --- snapshot, delete the file, restore
check "snapshot one snap0" "$vmm" snapshot one snap0
expect_eq "snapshot list" "snap0" "$("$vmm" snapshot list one)"
check "delete the file" "$vmm" exec one -- rm /root/hi.txt
"$vmm" exec one -- test -e /root/hi.txt; expect_eq "the file is gone" 1 "$?"
check "restore one snap0" "$vmm" restore one snap0
expect_eq "restore brought the file back" "hello" "$("$vmm" exec one -- cat /root/hi.txt)"
expect_eq "list counts the snapshot" "1" "$("$vmm" list --format csv | grep ^one, | cut -d, -f5)"

# --- daemon restart: instances keep running and are listed again; autostart
init_one=$(curl -s --unix-socket "$sock" http://vmm/1.0/instances/one/state | json_get 'd["metadata"]["pid"]')
check "config set two boot.autostart=true" "$vmm" config set two boot.autostart=true
check "stop two" "$vmm" stop two
stop_daemon
check "one's init outlives the daemon" kill -0 "$init_one"
# What a daemon killed in the middle of a launch and an import leaves: a record still
# "creating" with its layers, and an import's staging directory.
mkdir -p "$state/instances/half/upper" "$state/instances/half/work" "$state/instances/half/rootfs" \
  "$state/images/.tmp-killed/rootfs"
fp=$(ls "$state/images" | grep -E '^[0-9a-f]{64}$' | head -1)
printf '{"name": "half", "type": "container", "image": "%s", "config": {}, "creating": true}' \
  "$fp" >"$state/instances/half/instance.json"
start_daemon || exit 1
check "the half-created instance was removed at restart" test ! -e "$state/instances/half"
check "the half-done import was removed at restart" test ! -e "$state/images/.tmp-killed"
listing=$("$vmm" list --format csv)
check "after the restart one is listed running" grep -q "^one,RUNNING," <<<"$listing"
expect_eq "with the same init" "$init_one" \
  "$(curl -s --unix-socket "$sock" http://vmm/1.0/instances/one/state | json_get 'd["metadata"]["pid"]')"
check "two (autostart) came back with the daemon" grep -q "^two,RUNNING," <<<"$listing"

# --- the REST API with curl: envelopes, operations, every error status
read -r code body <<<"$(api GET /1.0)"
expect_eq "GET /1.0 is 200" 200 "$code"
expect_eq "a sync envelope" "sync Success 1.0" \
  "$(json_get 'd["type"], d["status"], d["metadata"]["api_version"]' <<<"$body" | tr -d "(),'")"
read -r code body <<<"$(api GET /1.0/instances)"
expect_eq "instances as URLs" "/1.0/instances/one" "$(json_get 'd["metadata"][0]' <<<"$body")"
read -r code body <<<"$(api GET /1.0/instances/nope)"
expect_eq "an unknown instance is 404" 404 "$code"
expect_eq "in an error envelope" "error 404" "$(json_get 'd["type"], d["error_code"]' <<<"$body" | tr -d "(),'")"
read -r code body <<<"$(api POST /1.0/instances '{"name": "x", ')"
expect_eq "malformed JSON is 400" 400 "$code"
read -r code body <<<"$(api POST /1.0/instances '{"name": "9bad", "source": {"alias": "busybox"}}')"
expect_eq "an invalid name is 400" 400 "$code"
read -r code body <<<"$(api POST /1.0/instances '{"name": "one", "source": {"alias": "busybox"}}')"
expect_eq "a duplicate name is 409" 409 "$code"
read -r code body <<<"$(api POST /1.0/instances '{"name": "three", "source": {"alias": "nosuch"}}')"
expect_eq "an unknown image is 404" 404 "$code"
read -r code body <<<"$(api PUT /1.0/instances/one/state '{"action": "dance"}')"
expect_eq "an unknown action is 400" 400 "$code"
read -r code body <<<"$(api PUT /1.0/instances/one/state '{"action": "start"}')"
expect_eq "starting a running instance is 409" 409 "$code"
read -r code body <<<"$(api DELETE /1.0/instances/one)"
expect_eq "deleting a running instance is 409" 409 "$code"
read -r code body <<<"$(api PATCH /1.0/instances/one '{"config": {"limits.cpu": "lots"}}')"
expect_eq "a bad config value is 400" 400 "$code"
read -r code body <<<"$(api DELETE /1.0/images)"
expect_eq "a wrong method is 405" 405 "$code"
read -r code body <<<"$(api GET /1.0/nothing)"
expect_eq "an unknown endpoint is 404" 404 "$code"
read -r code body <<<"$(api GET /1.0/operations/00000000-0000-0000-0000-000000000000/wait)"
expect_eq "an unknown operation is 404" 404 "$code"
read -r code body <<<"$(api DELETE /1.0/images/busybox)"
code_op=$(json_get 'd["operation"]' <<<"$body")
read -r code body <<<"$(api GET "$code_op/wait?timeout=30")"
expect_eq "deleting an image in use fails in its operation" "Failure" "$(json_get 'd["metadata"]["status"]' <<<"$body")"
read -r code body <<<"$(api POST /1.0/instances/one/exec '{"command": ["sh", "-c", "echo out; exit 3"], "record-output": true}')"
expect_eq "exec is async (202)" 202 "$code"
op=$(json_get 'd["operation"]' <<<"$body")
read -r code body <<<"$(api GET "$op/wait?timeout=60")"
expect_eq "the operation ends with the command's status" "Success 3" \
  "$(json_get 'd["metadata"]["status"], d["metadata"]["metadata"]["return"]' <<<"$body" | tr -d "(),'")"
log=$(json_get 'd["metadata"]["metadata"]["output"]["1"]' <<<"$body")
expect_eq "its stdout is a log to fetch" "out" "$(curl -s --unix-socket "$sock" "http://vmm$log")"

# --- 20 container instances launched at once through the API
ops=()
for i in $(seq 1 20); do
  read -r code body <<<"$(api POST /1.0/instances "{\"name\": \"many$i\", \"source\": {\"alias\": \"busybox\"}}")"
  ops+=("$(json_get 'd["operation"]' <<<"$body")")
done
for op in "${ops[@]}"; do api GET "$op/wait?timeout=120" >/dev/null; done
ops=()
for i in $(seq 1 20); do
  read -r code body <<<"$(api PUT /1.0/instances/many$i/state '{"action": "start"}')"
  ops+=("$(json_get 'd["operation"]' <<<"$body")")
done
ok=0
for op in "${ops[@]}"; do
  read -r code body <<<"$(api GET "$op/wait?timeout=120")"
  [ "$(json_get 'd["metadata"]["status"]' <<<"$body")" = Success ] && ok=$((ok + 1))
done
expect_eq "20 concurrent launches succeed" 20 "$ok"
expect_eq "list shows the 20 running" 20 "$("$vmm" list --format csv | grep -c '^many[0-9]*,RUNNING,')"
pids=$(for i in $(seq 1 20); do
  curl -s --unix-socket "$sock" "http://vmm/1.0/instances/many$i/state" | json_get 'd["metadata"]["pid"]'
done)
deleters=()
for i in $(seq 1 20); do
  "$vmm" delete --force "many$i" >/dev/null 2>&1 &
  deleters+=($!)
done
deleted=0
for p in "${deleters[@]}"; do wait "$p" && deleted=$((deleted + 1)); done
expect_eq "20 concurrent deletes succeed" 20 "$deleted"

# --- CLI usage errors
"$vmm" launch busybox one >/dev/null 2>&1; expect_eq "launching a duplicate name is 2" 2 "$?"
"$vmm" launch busybox -bad- >/dev/null 2>&1; expect_eq "an invalid name is 2" 2 "$?"
"$vmm" launch nosuchimage three >/dev/null 2>&1; expect_eq "an unknown image is 2" 2 "$?"
"$vmm" exec nosuch -- true >/dev/null 2>&1; expect_eq "exec in an unknown instance is 2" 2 "$?"

# --- delete leaves nothing behind
pids="$pids $init_one $(curl -s --unix-socket "$sock" http://vmm/1.0/instances/two/state | json_get 'd["metadata"]["pid"]')"
veths="$veths $(curl -s --unix-socket "$sock" http://vmm/1.0/instances/two/state | json_get 'd["metadata"]["network"]["eth0"]["host_name"]')"
check "delete --force one" "$vmm" delete --force one
check "delete --force two" "$vmm" delete --force two
expect_eq "no instance is listed" "" "$("$vmm" list --format csv)"
expect_eq "no instance directory is left" "" "$(ls -A "$state/instances")"
expect_eq "no runtime state is left" "" "$(ls -A "$state/containers")"
expect_eq "no mount is left" "" "$(grep "$state/instances" /proc/mounts)"
# Alive and not a zombie (an orphan's reaping is up to the host's init).
alive() { [ -r "/proc/$1/stat" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]; }
for _ in $(seq 50); do  # SIGKILLed processes take a moment to be gone
  left=0
  for p in $pids; do alive "$p" && left=$((left + 1)); done
  ((left == 0)) && break
  sleep 0.1
done
for p in $pids; do alive "$p" && echo "left: $(cat "/proc/$p/stat" 2>/dev/null)"; done
expect_eq "no instance process is left" 0 "$left"
cgroups=$(find /sys/fs/cgroup -maxdepth 3 -type d -path '*vmm.instances-*/*' 2>/dev/null)
expect_eq "no cgroup is left" "" "$cgroups"
expect_eq "nor the instances' common parent" "$parents_before" \
  "$(ls -d /sys/fs/cgroup/*/vmm.instances-* 2>/dev/null | sort)"
left=0
for v in $veths; do ip link show dev "$v" >/dev/null 2>&1 && left=$((left + 1)); done
expect_eq "no veth is left" 0 "$left"
check "an unused image can be deleted" "$vmm" image delete second
stop_daemon
check "dnsmasq stopped with the daemon" bash -c "! pgrep -a -x dnsmasq | grep -q -- '--interface=$bridge '"

echo "daemon log:"; sed 's/^/  /' "$work/daemon.log"
if ((failures)); then
  echo "--- failed checks (repeated here, where a shortened log still shows them)"
  printf 'FAIL: %s\n' "${failed_checks[@]}"
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
