#include "container/rootfs_setup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <climits>
#include <memory>
#include <set>
#include <sstream>
#include <string_view>

#include "container/cgroup.hpp"
#include "container/path_in_root.hpp"
#include "vmm/common/error.hpp"
#include "vmm/common/unique_fd.hpp"

namespace vmm::container {
namespace {

void do_mount(const std::string& source, const std::string& target, const std::string& type,
              unsigned long flags, const std::string& data, const std::string& what) {
  if (::mount(source.empty() ? nullptr : source.c_str(), target.c_str(),
              type.empty() ? nullptr : type.c_str(), flags,
              data.empty() ? nullptr : data.c_str()) != 0) {
    throw system_error("cannot mount " + what, errno);
  }
}

// Flags a remount must keep: in a user namespace they are locked and dropping them is EPERM.
unsigned long locked_flags(const std::string& path) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) return 0;
  unsigned long f = 0;
  if (st.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (st.f_flag & ST_NODEV) f |= MS_NODEV;
  if (st.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (st.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (st.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (st.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

bool is_symlink_in_root(int root_fd, const std::string& dest) {
  const auto parts = path_components(dest);
  if (parts.empty()) return false;
  std::string parent_path;
  for (size_t i = 0; i + 1 < parts.size(); ++i) parent_path += "/" + parts[i];
  bool missing = false;
  UniqueFd parent = open_in_root(root_fd, parent_path.empty() ? "/" : parent_path, &missing);
  if (missing) return false;
  struct stat st {};
  if (::fstatat(parent.get(), parts.back().c_str(), &st, AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0)
    return false;
  return S_ISLNK(st.st_mode);
}

void check_fs_type(int fd, long magic, const std::string& what) {
  struct statfs st {};
  if (::fstatfs(fd, &st) != 0) throw system_error("statfs " + what, errno);
  if (static_cast<long>(st.f_type) != magic)
    throw Error(what + " is not the expected file system; refusing it");
}

void copy_tree(int from, int to, const std::string& what);  // below, beside the options

// A cgroup mount on a v1 host, as runc makes it: a tmpfs holding one directory per hierarchy,
// each a bind mount of the container's own cgroup there (so the container sees its cgroup as
// the root and nothing of its neighbours), and links for combined hierarchies (cpu ->
// cpu,cpuacct). Read-only when the mount says ro.
void mount_cgroup_v1(int root_fd, const Mount& m, const MountFlags& mf,
                     const std::string& cgroup_path) {
  if (cgroup_path.empty()) return;  // no cgroup: nothing to show
  UniqueFd target = open_or_create_in_root(root_fd, m.destination, CreateKind::kDirectory);
  const std::string what = m.destination;
  const unsigned long common = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  do_mount("tmpfs", fd_path(target.get()), "tmpfs", common, "mode=755", what);
  UniqueFd dir = open_in_root(root_fd, m.destination);
  std::set<std::string> done;
  for (const auto& [controller, mountpoint] : detect_cgroup_layout().v1_mounts) {
    const std::string name = mountpoint.substr(mountpoint.rfind('/') + 1);
    if (!done.insert(name).second) continue;
    std::string inside = what;  // for messages: /sys/fs/cgroup/memory
    inside.append("/").append(name);
    std::string source = mountpoint;
    source.append("/").append(cgroup_path);
    if (::mkdirat(dir.get(), name.c_str(), 0755) != 0 && errno != EEXIST) {
      throw system_error("cannot create " + inside, errno);
    }
    UniqueFd sub(::openat(dir.get(), name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub) throw system_error("cannot open " + inside, errno);
    const std::string sub_path = fd_path(sub.get());
    do_mount(source, sub_path, "", MS_BIND, "", inside);
    UniqueFd mounted(::openat(dir.get(), name.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!mounted) throw system_error("cannot open " + inside, errno);
    const std::string mpath = fd_path(mounted.get());
    do_mount("", mpath, "", MS_BIND | MS_REMOUNT | common | (mf.flags & MS_RDONLY), "",
             inside + " flags");
    if (name.find(',') != std::string::npos) {
      std::istringstream parts(name);
      for (std::string part; std::getline(parts, part, ',');) {
        if (::symlinkat(name.c_str(), dir.get(), part.c_str()) != 0 && errno != EEXIST) {
          std::string message = "cannot link ";
          message.append(part).append(" in ").append(what);
          throw system_error(message, errno);
        }
      }
    }
  }
  do_mount("", fd_path(dir.get()), "", MS_REMOUNT | common | (mf.flags & MS_RDONLY), "mode=755",
           what + " flags");
}

void mount_one(int root_fd, const Mount& m, const std::string& cgroup_path) {
  const MountFlags mf = parse_mount_options(m.options);
  const bool bind = mf.bind || m.type == "bind";
  const bool special = m.type == "proc" || m.type == "sysfs";
  if (special && is_symlink_in_root(root_fd, m.destination)) {
    throw ConfigError("mount destination " + m.destination + " for " + m.type +
                      " is a symlink; refusing it");
  }
  if (m.type == "cgroup" || m.type == "cgroup2") {
    // The unified hierarchy is mounted as it is (the cgroup namespace roots it at the
    // container's cgroup); on v1 hosts the container gets its own slice of each hierarchy.
    struct statfs st {};
    if (::statfs("/sys/fs/cgroup", &st) != 0 || st.f_type != CGROUP2_SUPER_MAGIC) {
      mount_cgroup_v1(root_fd, m, mf, cgroup_path);
      return;
    }
  }
  CreateKind kind = CreateKind::kDirectory;
  if (bind) {
    struct stat st {};
    if (::stat(m.source.c_str(), &st) != 0)
      throw system_error("bind mount source " + m.source, errno);
    if (!S_ISDIR(st.st_mode)) kind = CreateKind::kFile;
  }
  UniqueFd target = open_or_create_in_root(root_fd, m.destination, kind);
  const std::string tpath = fd_path(target.get());
  const std::string what = m.destination;
  if (bind) {
    do_mount(m.source, tpath, "", MS_BIND | (mf.flags & MS_REC), "", what);
    const unsigned long extra = mf.flags & ~static_cast<unsigned long>(MS_REC | MS_BIND);
    if (extra != 0) {
      // Re-open: the fd still names the covered directory, not the new mount.
      UniqueFd mounted = open_in_root(root_fd, m.destination);
      const std::string mpath = fd_path(mounted.get());
      do_mount("", mpath, "", MS_BIND | MS_REMOUNT | extra | locked_flags(mpath), "", what);
    }
  } else {
    const std::string type = m.type == "cgroup" ? "cgroup2" : m.type;
    if (mf.tmpcopyup && type != "tmpfs") {
      throw ConfigError("mount " + what + ": tmpcopyup applies to tmpfs only");
    }
    // The target fd keeps naming the covered directory once the tmpfs is on top of it.
    UniqueFd covered;
    if (mf.tmpcopyup) {
      covered.reset(::openat(target.get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!covered) throw system_error("tmpcopyup " + what, errno);
    }
    do_mount(m.source.empty() ? type : m.source, tpath, type, mf.flags, mf.data,
             what + (mf.data.empty() ? "" : " (options " + mf.data + ")"));
    if (covered) {
      UniqueFd mounted = open_in_root(root_fd, m.destination);
      copy_tree(covered.get(), mounted.get(), what);
    }
  }
  if (mf.recursive_set != 0 || mf.recursive_clear != 0) {
    UniqueFd mounted = open_in_root(root_fd, m.destination);
    mount_attr attr{};
    attr.attr_set = mf.recursive_set;
    attr.attr_clr = mf.recursive_clear;
    if (::mount_setattr(mounted.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0) {
      throw system_error("cannot apply the recursive mount options of " + what, errno);
    }
  }
  if (mf.propagation != 0) {
    UniqueFd mounted = open_in_root(root_fd, m.destination);
    do_mount("", fd_path(mounted.get()), "", mf.propagation, "", what + " propagation");
  }
  if (special) {
    UniqueFd mounted = open_in_root(root_fd, m.destination);
    check_fs_type(mounted.get(), m.type == "proc" ? PROC_SUPER_MAGIC : SYSFS_MAGIC, m.destination);
  }
}

struct DefaultDevice {
  const char* path;
  unsigned major;
  unsigned minor;
};
constexpr std::array<DefaultDevice, 6> kDefaultDevices = {{
    {"/dev/null", 1, 3},
    {"/dev/zero", 1, 5},
    {"/dev/full", 1, 7},
    {"/dev/random", 1, 8},
    {"/dev/urandom", 1, 9},
    {"/dev/tty", 5, 0},
}};

void create_device(int root_fd, const Device& d) {
  UniqueFd dev_parent;
  const auto parts = path_components(d.path);
  std::string parent;
  for (size_t i = 0; i + 1 < parts.size(); ++i) parent += "/" + parts[i];
  dev_parent = open_or_create_in_root(root_fd, parent, CreateKind::kDirectory);
  mode_t type = S_IFCHR;
  if (d.type == 'b') type = S_IFBLK;
  if (d.type == 'p') type = S_IFIFO;
  const mode_t mode = type | static_cast<mode_t>(d.file_mode.value_or(0666));
  ::unlinkat(dev_parent.get(), parts.back().c_str(), 0);
  // O_PATH parents cannot be used with mknodat's permission checks on all kernels; go
  // through the magic link of the resolved directory.
  const std::string node = fd_path(dev_parent.get()) + "/" + parts.back();
  if (::mknod(node.c_str(), mode,
              makedev(static_cast<unsigned>(d.major), static_cast<unsigned>(d.minor))) == 0) {
    if (::chmod(node.c_str(), mode & 07777) != 0) throw system_error("chmod " + d.path, errno);
    if (d.uid || d.gid) {
      if (::lchown(node.c_str(), d.uid.value_or(0), d.gid.value_or(0)) != 0)
        throw system_error("chown " + d.path, errno);
    }
    return;
  }
  if (errno != EPERM) throw system_error("mknod " + d.path, errno);
  // In a user namespace mknod is refused: bind the host's node of the same name instead.
  const int fd = ::open(node.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) throw system_error("create " + d.path, errno);
  ::close(fd);
  do_mount(d.path, node, "", MS_BIND, "", d.path);
}

void populate_dev(int root_fd, const Spec& spec) {
  bool missing = false;
  UniqueFd dev = open_in_root(root_fd, "/dev", &missing);
  if (missing) return;
  for (const auto& d : kDefaultDevices) {
    create_device(root_fd, Device{d.path, 'c', d.major, d.minor, 0666, std::nullopt, std::nullopt});
  }
  for (const auto& d : spec.linux_config.devices) create_device(root_fd, d);
  const std::array<std::pair<const char*, const char*>, 5> links = {{
      {"fd", "/proc/self/fd"},
      {"stdin", "/proc/self/fd/0"},
      {"stdout", "/proc/self/fd/1"},
      {"stderr", "/proc/self/fd/2"},
      {"ptmx", "pts/ptmx"},
  }};
  for (const auto& [name, target] : links) {
    if (::symlinkat(target, dev.get(), name) != 0 && errno != EEXIST) {
      // O_PATH dirfds are accepted by symlinkat; anything else is a real failure.
      throw system_error(std::string("symlink /dev/") + name, errno);
    }
  }
}

}  // namespace

namespace {

// runc's and crun's own options, which must never reach the kernel as file system data.
bool parse_extension_option(const std::string& opt, MountFlags& out) {
  struct RecursiveAttr {
    std::string_view name;
    bool clear;
    uint64_t attr;
  };
  static constexpr std::array<RecursiveAttr, 14> kRecursive = {{
      {"rro", false, MOUNT_ATTR_RDONLY},
      {"rrw", true, MOUNT_ATTR_RDONLY},
      {"rnosuid", false, MOUNT_ATTR_NOSUID},
      {"rsuid", true, MOUNT_ATTR_NOSUID},
      {"rnodev", false, MOUNT_ATTR_NODEV},
      {"rdev", true, MOUNT_ATTR_NODEV},
      {"rnoexec", false, MOUNT_ATTR_NOEXEC},
      {"rexec", true, MOUNT_ATTR_NOEXEC},
      {"rnodiratime", false, MOUNT_ATTR_NODIRATIME},
      {"rdiratime", true, MOUNT_ATTR_NODIRATIME},
      {"rnoatime", false, MOUNT_ATTR_NOATIME},
      {"rrelatime", false, MOUNT_ATTR_RELATIME},
      {"rstrictatime", false, MOUNT_ATTR_STRICTATIME},
      {"ratime", false, MOUNT_ATTR_RELATIME},
  }};
  for (const auto& r : kRecursive) {
    if (r.name != opt) continue;
    if (r.clear) {
      out.recursive_clear |= r.attr;
      out.recursive_set &= ~r.attr;
    } else {
      // The atime modes are one field: setting one clears the others.
      if ((r.attr & MOUNT_ATTR__ATIME) != 0 || r.attr == MOUNT_ATTR_RELATIME) {
        out.recursive_clear |= MOUNT_ATTR__ATIME;
        out.recursive_set &= ~static_cast<uint64_t>(MOUNT_ATTR__ATIME);
      }
      out.recursive_set |= r.attr;
      out.recursive_clear &= ~r.attr;
    }
    return true;
  }
  if (opt == "tmpcopyup") {
    out.tmpcopyup = true;
    return true;
  }
  if (opt == "notmpcopyup") {
    out.tmpcopyup = false;
    return true;
  }
  for (const char* unsupported : {"idmap", "ridmap", "copy-symlink", "src-nofollow"}) {
    if (opt == unsupported) {
      throw ConfigError("mount option '" + opt + "' is not supported by this runtime");
    }
  }
  return false;
}

// Copies the tree under `from` into `to` (both directories), keeping modes, owners and
// symlinks: what tmpcopyup puts into a new tmpfs. Device nodes and sockets are skipped.
void copy_tree(int from, int to, const std::string& what) {
  const int listing = ::dup(from);
  if (listing < 0) throw system_error("tmpcopyup " + what, errno);
  DIR* dir = ::fdopendir(listing);
  if (dir == nullptr) {
    ::close(listing);
    throw system_error("tmpcopyup " + what, errno);
  }
  std::unique_ptr<DIR, int (*)(DIR*)> closer(dir, ::closedir);
  ::rewinddir(dir);
  while (const dirent* e = ::readdir(dir)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::fstatat(from, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    std::string path = what;
    path.append("/").append(name);
    if (S_ISDIR(st.st_mode)) {
      if (::mkdirat(to, name.c_str(), st.st_mode & 07777) != 0 && errno != EEXIST) {
        throw system_error("tmpcopyup: cannot create " + path, errno);
      }
      UniqueFd sub_from(
          ::openat(from, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      UniqueFd sub_to(::openat(to, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub_from || !sub_to) throw system_error("tmpcopyup: cannot open " + path, errno);
      copy_tree(sub_from.get(), sub_to.get(), path);
      (void)::fchmod(sub_to.get(), st.st_mode & 07777);
      (void)::fchown(sub_to.get(), st.st_uid, st.st_gid);
    } else if (S_ISLNK(st.st_mode)) {
      std::array<char, PATH_MAX> link{};
      const ssize_t n = ::readlinkat(from, name.c_str(), link.data(), link.size() - 1);
      if (n < 0) throw system_error("tmpcopyup: cannot read link " + path, errno);
      if (::symlinkat(link.data(), to, name.c_str()) != 0 && errno != EEXIST) {
        throw system_error("tmpcopyup: cannot create link " + path, errno);
      }
      (void)::fchownat(to, name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
    } else if (S_ISREG(st.st_mode)) {
      UniqueFd in(::openat(from, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      UniqueFd out(::openat(to, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                            st.st_mode & 07777));
      if (!in || !out) throw system_error("tmpcopyup: cannot copy " + path, errno);
      std::array<char, 65536> buf{};
      for (;;) {
        const ssize_t r = ::read(in.get(), buf.data(), buf.size());
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) throw system_error("tmpcopyup: cannot read " + path, errno);
        if (r == 0) break;
        for (ssize_t off = 0; off < r;) {
          const ssize_t w = ::write(out.get(), buf.data() + off, static_cast<size_t>(r - off));
          if (w < 0 && errno == EINTR) continue;
          if (w < 0) throw system_error("tmpcopyup: cannot write " + path, errno);
          off += w;
        }
      }
      (void)::fchmod(out.get(), st.st_mode & 07777);
      (void)::fchown(out.get(), st.st_uid, st.st_gid);
    }
  }
}

}  // namespace

MountFlags parse_mount_options(const std::vector<std::string>& options) {
  struct Flag {
    std::string_view name;
    bool clear;
    unsigned long flag;
  };
  static constexpr std::array<Flag, 24> kFlags = {{
      {"ro", false, MS_RDONLY},
      {"rw", true, MS_RDONLY},
      {"nosuid", false, MS_NOSUID},
      {"suid", true, MS_NOSUID},
      {"nodev", false, MS_NODEV},
      {"dev", true, MS_NODEV},
      {"noexec", false, MS_NOEXEC},
      {"exec", true, MS_NOEXEC},
      {"sync", false, MS_SYNCHRONOUS},
      {"async", true, MS_SYNCHRONOUS},
      {"dirsync", false, MS_DIRSYNC},
      {"remount", false, MS_REMOUNT},
      {"mand", false, MS_MANDLOCK},
      {"nomand", true, MS_MANDLOCK},
      {"atime", true, MS_NOATIME},
      {"noatime", false, MS_NOATIME},
      {"diratime", true, MS_NODIRATIME},
      {"nodiratime", false, MS_NODIRATIME},
      {"relatime", false, MS_RELATIME},
      {"norelatime", true, MS_RELATIME},
      {"strictatime", false, MS_STRICTATIME},
      {"nostrictatime", true, MS_STRICTATIME},
      {"bind", false, MS_BIND},
      {"rbind", false, MS_BIND | MS_REC},
  }};
  static constexpr std::array<std::pair<std::string_view, unsigned long>, 8> kPropagation = {{
      {"private", MS_PRIVATE},
      {"rprivate", MS_PRIVATE | MS_REC},
      {"shared", MS_SHARED},
      {"rshared", MS_SHARED | MS_REC},
      {"slave", MS_SLAVE},
      {"rslave", MS_SLAVE | MS_REC},
      {"unbindable", MS_UNBINDABLE},
      {"runbindable", MS_UNBINDABLE | MS_REC},
  }};
  MountFlags out;
  for (const auto& opt : options) {
    bool known = false;
    for (const auto& f : kFlags) {
      if (f.name != opt) continue;
      known = true;
      if (f.clear) {
        out.flags &= ~f.flag;
      } else {
        out.flags |= f.flag;
      }
      if (f.flag & MS_BIND) out.bind = true;
    }
    for (const auto& [name, flag] : kPropagation) {
      if (name == opt) {
        known = true;
        out.propagation = flag;
      }
    }
    if (!known) known = parse_extension_option(opt, out);
    if (!known) {
      if (!out.data.empty()) out.data += ',';
      out.data += opt;
    }
  }
  return out;
}

std::vector<Mount> default_mounts(bool rootless) {
  std::vector<Mount> m = {
      {"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}},
      {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
      {"/dev/pts",
       "devpts",
       "devpts",
       {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
      {"/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
      {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
      {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
  };
  if (!rootless) {
    m[2].options.push_back("gid=5");
    // The container's own cgroup, read-only (runc's template has it too).
    m.push_back(
        {"/sys/fs/cgroup", "cgroup", "cgroup", {"nosuid", "noexec", "nodev", "relatime", "ro"}});
  }
  return m;
}

std::vector<std::string> default_masked_paths() {
  return {"/proc/acpi",
          "/proc/asound",
          "/proc/kcore",
          "/proc/keys",
          "/proc/latency_stats",
          "/proc/timer_list",
          "/proc/timer_stats",
          "/proc/sched_debug",
          "/proc/scsi",
          "/sys/firmware",
          "/sys/devices/virtual/powercap"};
}

std::vector<std::string> default_readonly_paths() {
  return {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
}

void set_root_propagation(const Spec& spec) {
  unsigned long propagation = MS_SLAVE | MS_REC;
  if (!spec.linux_config.rootfs_propagation.empty()) {
    propagation = parse_mount_options({spec.linux_config.rootfs_propagation}).propagation;
  }
  // Nothing we mount may propagate back to the host, and pivot_root refuses a shared root:
  // a shared request is applied to the new root after pivot_root (apply_root_propagation).
  if ((propagation & MS_SHARED) != 0) propagation = MS_SLAVE | MS_REC;
  do_mount("", "/", "", propagation, "", "/ propagation");
}

void apply_root_propagation(const Spec& spec) {
  if (spec.linux_config.rootfs_propagation.empty()) return;
  const unsigned long propagation =
      parse_mount_options({spec.linux_config.rootfs_propagation}).propagation;
  do_mount("", "/", "", propagation, "",
           "/ propagation (" + spec.linux_config.rootfs_propagation + ")");
}

void prepare_rootfs(const Spec& spec, const std::string& rootfs, const std::string& cgroup_path) {
  do_mount(rootfs, rootfs, "", MS_BIND | MS_REC, "", "the root file system " + rootfs);
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) throw system_error("cannot open root " + rootfs, errno);
  for (const auto& m : spec.mounts) mount_one(root.get(), m, cgroup_path);
  populate_dev(root.get(), spec);
}

void pivot_into(const std::string& rootfs) {
  UniqueFd old_root(::open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  UniqueFd new_root(::open(rootfs.c_str(), O_DIRECTORY | O_RDONLY | O_CLOEXEC));
  if (!old_root || !new_root) throw system_error("open for pivot_root", errno);
  if (::fchdir(new_root.get()) != 0) throw system_error("fchdir to the new root", errno);
  // pivot_root(".", ".") stacks the old root on top of the new one; detach it from there.
  if (::syscall(SYS_pivot_root, ".", ".") != 0) throw system_error("pivot_root", errno);
  if (::fchdir(old_root.get()) != 0) throw system_error("fchdir to the old root", errno);
  do_mount("", ".", "", MS_SLAVE | MS_REC, "", "old root propagation");
  if (::umount2(".", MNT_DETACH) != 0) throw system_error("cannot detach the old root", errno);
  if (::chdir("/") != 0) throw system_error("chdir /", errno);
}

int open_verified_proc() {
  const int fd = ::open("/proc", O_DIRECTORY | O_NOFOLLOW | O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw system_error("cannot open /proc in the container", errno);
  UniqueFd owner(fd);
  check_fs_type(fd, PROC_SUPER_MAGIC, "/proc");
  return owner.release();
}

void finish_rootfs(const Spec& spec) {
  UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) throw system_error("open /", errno);
  bool has_proc = false;
  for (const auto& m : spec.mounts) has_proc = has_proc || m.type == "proc";
  if (has_proc) {
    // Everything below writes through /proc/self/fd and /proc/sys: make sure it is procfs.
    UniqueFd proc(open_verified_proc());
    for (const auto& [key, value] : spec.linux_config.sysctl) {
      std::string rel = "sys/" + key;
      for (auto& c : rel) {
        if (c == '.') c = '/';
      }
      const int fd = ::openat(proc.get(), rel.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) throw system_error("cannot open sysctl " + key, errno);
      const ssize_t n = ::write(fd, value.data(), value.size());
      const int err = errno;
      ::close(fd);
      if (n < 0) throw system_error("cannot set sysctl " + key, err);
    }
  }
  for (const auto& p : spec.linux_config.readonly_paths) {
    bool missing = false;
    UniqueFd fd = open_in_root(root.get(), p, &missing);
    if (missing) continue;
    const std::string path = fd_path(fd.get());
    do_mount(path, path, "", MS_BIND | MS_REC, "", p);
    UniqueFd again = open_in_root(root.get(), p);
    const std::string mpath = fd_path(again.get());
    do_mount("", mpath, "", MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(mpath), "",
             p + " read-only");
  }
  for (const auto& p : spec.linux_config.masked_paths) {
    bool missing = false;
    UniqueFd fd = open_in_root(root.get(), p, &missing);
    if (missing) continue;
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throw system_error("stat " + p, errno);
    if (S_ISDIR(st.st_mode)) {
      do_mount("tmpfs", fd_path(fd.get()), "tmpfs", MS_RDONLY, "", p + " (masked)");
    } else {
      do_mount("/dev/null", fd_path(fd.get()), "", MS_BIND, "", p + " (masked)");
    }
  }
  if (spec.root_readonly) {
    do_mount("", "/", "", MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags("/"), "", "/ read-only");
  }
}

}  // namespace vmm::container
