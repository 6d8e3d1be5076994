#!/bin/sh
# Builds a busybox root file system from Debian's busybox-static, optionally as an OCI bundle
# (OUT/config.json + OUT/rootfs) and/or an ext4 image of the same tree.
#
#   build-busybox-rootfs.sh [--bundle] [--image FILE] OUT
#
# Without --bundle OUT itself is the root file system.
set -eu

usage() { echo "usage: $0 [--bundle] [--image FILE] OUT" >&2; exit 2; }
bundle=0
image=
while [ $# -gt 1 ]; do
  case "$1" in
    --bundle) bundle=1; shift ;;
    --image) image=$2; shift 2 ;;
    *) usage ;;
  esac
done
[ $# -eq 1 ] || usage
out=$1
busybox=$(command -v busybox || true)
[ -n "$busybox" ] && [ -x /bin/busybox ] && busybox=/bin/busybox
[ -n "$busybox" ] || { echo "busybox not found (apt-get install busybox-static)" >&2; exit 1; }

if [ "$bundle" = 1 ]; then root=$out/rootfs; else root=$out; fi
mkdir -p "$root"
for d in bin sbin usr/bin usr/sbin etc proc sys dev tmp root var/tmp run home; do
  mkdir -p "$root/$d"
done
chmod 1777 "$root/tmp" "$root/var/tmp"
chmod 755 "$out" "$root"
cp "$busybox" "$root/bin/busybox"
chmod 755 "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
  [ "$applet" = busybox ] && continue
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
tty:x:5:
nogroup:x:65534:
GROUP
echo "vmm-busybox" > "$root/etc/hostname"
: > "$root/etc/hosts"

if [ "$bundle" = 1 ]; then
  cat > "$out/config.json" <<'JSON'
{
  "ociVersion": "1.2.0",
  "process": {
    "terminal": false,
    "user": {"uid": 0, "gid": 0},
    "args": ["sh"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "vmm-busybox",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
     "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs",
     "options": ["nosuid", "noexec", "nodev", "ro"]}
  ],
  "linux": {
    "resources": {"devices": [{"allow": false, "access": "rwm"}]},
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"},
                   {"type": "mount"}, {"type": "cgroup"}],
    "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                    "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                    "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
}
JSON
fi

if [ -n "$image" ]; then
  # The same tree as an ext4 image, the form `vmm run` boots and `--image` mounts.
  rm -f "$image"
  mkfs.ext4 -q -F -L vmm-rootfs -d "$root" "$image" 16M
fi
