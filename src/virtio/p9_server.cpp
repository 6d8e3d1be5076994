#include "vmm/virtio/p9_server.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <variant>

#include "vmm/common/error.hpp"

namespace vmm::virtio::p9 {
namespace {

// Tsetattr.valid bits (include/net/9p/9p.h).
constexpr uint32_t kSetMode = 0x1;
constexpr uint32_t kSetUid = 0x2;
constexpr uint32_t kSetGid = 0x4;
constexpr uint32_t kSetSize = 0x8;
constexpr uint32_t kSetAtime = 0x10;
constexpr uint32_t kSetMtime = 0x20;
constexpr uint32_t kSetAtimeSet = 0x80;
constexpr uint32_t kSetMtimeSet = 0x100;
// Rgetattr.valid: the basic fields, which is everything this server fills.
constexpr uint64_t kGetattrBasic = 0x7ff;
// Rlock status and the F_UNLCK of Rgetlock (P9_LOCK_TYPE_UNLCK).
constexpr uint8_t kLockSuccess = 0;
constexpr uint8_t kLockTypeUnlock = 2;
// Tunlinkat.flags: the only flag Linux sends.
constexpr uint32_t kUnlinkRemoveDir = 0x200;  // AT_REMOVEDIR
// Rgetattr and Rreaddir fields before a name.
constexpr uint32_t kRgetattrBody = 8 + kQidSize + 4 + 4 + 4 + 8 * 15;
// Permission bits the guest may set: no set-user-ID or set-group-ID on host files.
constexpr mode_t kGuestModeMask = 01777;

// What Tlopen/Tlcreate flags (Linux open flags, P9_DOTL_*) may reach the host: the access
// mode and the flags that only change how data moves. O_DIRECT is left out (the guest's
// buffers are not aligned for the host's device), as are O_CREAT and O_EXCL (Tlcreate only).
constexpr int kOpenFlagsKept =
    O_ACCMODE | O_TRUNC | O_APPEND | O_DSYNC | O_SYNC | O_DIRECTORY | O_NOATIME;

constexpr uint64_t kResolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

int errno_or(int fallback) noexcept { return errno != 0 ? errno : fallback; }

Qid qid_of(const struct stat& st) noexcept {
  Qid q;
  q.type = S_ISDIR(st.st_mode) ? kQidDir : S_ISLNK(st.st_mode) ? kQidSymlink : kQidFile;
  // The modification time in the version lets the client notice changes made on the host.
  q.version = static_cast<uint32_t>(st.st_mtim.tv_sec ^ (st.st_mtim.tv_nsec << 8));
  q.path = st.st_ino;
  return q;
}

// The reply of the requests that make a name (mkdir, mknod, symlink): the new entry's qid.
int reply_qid_of(int dir, const std::string& name, ReplyWriter& w) {
  struct stat st {};
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return errno_or(EIO);
  w.qid(qid_of(st));
  return 0;
}

bool writes(int flags) noexcept { return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC); }

std::string proc_fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

}  // namespace

bool valid_name(std::string_view name) noexcept {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos && name.size() <= kMaxNameLength;
}

std::string join_path(const std::string& parent, std::string_view name) {
  std::string out = parent;
  if (!out.empty()) out += '/';
  out += name;
  return out;
}

std::string parent_path(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

namespace {

std::string_view base_name(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string_view(path)
                                    : std::string_view(path).substr(slash + 1);
}

}  // namespace

Server::Server(const std::filesystem::path& root, bool read_only) : read_only_(read_only) {
  root_.reset(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_) {
    throw ConfigError(root.string() + ": " +
                      (errno == ENOTDIR ? std::string("not a directory") : std::strerror(errno)));
  }
}

void Server::reset() noexcept { fids_.clear(); }

void Server::handle(std::span<const uint8_t> message, uint32_t reply_limit,
                    std::vector<uint8_t>& reply) {
  // Before Tversion the largest message is kMinMsize; afterwards what it agreed on.
  const ParseResult parsed = parse_request(message, std::max(msize_, kMinMsize));
  if (!parsed.request) {
    if (parsed.error == ParseError::kTruncated && message.size() < kHeaderSize) return;
    build_rlerror(reply, parsed.tag,
                  parsed.error == ParseError::kUnknownType ? EOPNOTSUPP : EPROTO);
    return;
  }
  const Request& req = *parsed.request;
  const uint32_t limit = std::max(std::min(reply_limit, msize_), kIoHeaderSize);
  const size_t start = reply.size();
  ReplyWriter w(reply, limit, static_cast<uint8_t>(req.type + 1), req.tag);
  int err = std::visit([&](const auto& body) { return on(body, w); }, req.body);
  if (err == 0 && !w.finish()) err = ERANGE;
  if (err != 0) {
    reply.resize(start);
    build_rlerror(reply, req.tag, static_cast<uint32_t>(err));
  }
}

Server::Fid* Server::find(uint32_t fid) noexcept {
  const auto it = fids_.find(fid);
  return it == fids_.end() ? nullptr : &it->second;
}

int Server::can_add(uint32_t fid) const noexcept {
  if (fid == kNoFid) return EINVAL;
  if (fids_.contains(fid)) return EBADF;
  if (fids_.size() >= kMaxFids) return EMFILE;
  return 0;
}

int Server::open_beneath(const std::string& path, int flags, UniqueFd& out) const {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_NOFOLLOW | O_CLOEXEC);
  how.resolve = kResolve;
  const char* p = path.empty() ? "." : path.c_str();
  const long fd = ::syscall(SYS_openat2, root_.get(), p, &how, sizeof how);
  if (fd < 0) return -errno_or(EIO);
  out.reset(static_cast<int>(fd));
  return 0;
}

int Server::open_dir(const Fid& dir, UniqueFd& out) const {
  const int r = open_beneath(dir.path, O_PATH | O_DIRECTORY, out);
  return r == -ELOOP ? -ENOTDIR : r;
}

int Server::stat_path(const std::string& path, struct stat& st) const {
  UniqueFd fd;
  if (const int r = open_beneath(path, O_PATH, fd); r < 0) return r;
  if (::fstat(fd.get(), &st) != 0) return -errno_or(EIO);
  return 0;
}

void Server::move_paths(const std::string& from, const std::string& to) {
  for (auto& [number, fid] : fids_) {
    if (fid.path == from) {
      fid.path = to;
    } else if (fid.path.size() > from.size() && fid.path.starts_with(from) &&
               fid.path[from.size()] == '/') {
      fid.path = to + fid.path.substr(from.size());
    }
  }
}

int Server::on(const Tversion& t, ReplyWriter& w) {
  reset();
  const bool ours = t.version == kVersion9p2000L;
  if (ours) msize_ = std::clamp(t.msize, kMinMsize, kMaxMsize);
  w.u32(msize_);
  w.str(ours && t.msize >= kMinMsize ? kVersion9p2000L : std::string_view("unknown"));
  return 0;
}

int Server::on(const Tauth& /*t*/, ReplyWriter& /*w*/) { return EOPNOTSUPP; }

int Server::on(const Tattach& t, ReplyWriter& w) {
  if (const int err = can_add(t.fid); err != 0) return err;
  struct stat st {};
  if (const int r = stat_path("", st); r < 0) return -r;
  fids_.emplace(t.fid, Fid{});
  w.qid(qid_of(st));
  return 0;
}

int Server::on(const Tflush& /*t*/, ReplyWriter& /*w*/) {
  // Requests are answered one at a time, in order: the flushed one was answered already.
  return 0;
}

int Server::on(const Twalk& t, ReplyWriter& w) {
  Fid* from = find(t.fid);
  if (from == nullptr) return EBADF;
  if (t.newfid != t.fid) {
    if (const int err = can_add(t.newfid); err != 0) return err;
  }
  std::string path = from->path;
  std::vector<Qid> qids;
  for (const std::string_view name : t.names) {
    if (name == "..") {
      path = parent_path(path);  // the root is its own parent
    } else if (name != ".") {
      if (!valid_name(name)) {
        if (qids.empty()) return EINVAL;
        break;
      }
      std::string next = join_path(path, name);
      if (next.size() > kMaxPathLength) {
        if (qids.empty()) return ENAMETOOLONG;
        break;
      }
      path = std::move(next);
    }
    struct stat st {};
    if (const int r = stat_path(path, st); r < 0) {
      if (qids.empty()) return -r;
      break;
    }
    qids.push_back(qid_of(st));
    // Only directories can be walked further.
    if (!S_ISDIR(st.st_mode) && qids.size() < t.names.size()) break;
  }
  w.u16(static_cast<uint16_t>(qids.size()));
  for (const Qid& q : qids) w.qid(q);
  // A partial walk answers how far it got and leaves newfid unset.
  if (qids.size() == t.names.size()) {
    if (t.newfid == t.fid) {
      from->path = std::move(path);
    } else {
      Fid clone;
      clone.path = std::move(path);
      fids_.emplace(t.newfid, std::move(clone));
    }
  }
  return 0;
}

int Server::on(const Tread& t, ReplyWriter& w) {
  Fid* f = find(t.fid);
  if (f == nullptr) return EBADF;
  if (f->is_xattr) {
    w.u32(0);
    return 0;
  }
  if (!f->fd || (f->open_flags & O_ACCMODE) == O_WRONLY) return EBADF;
  if (t.offset > static_cast<uint64_t>(INT64_MAX)) return EINVAL;
  const size_t room = w.room() > 4 ? w.room() - 4 : 0;
  const size_t want = std::min<size_t>(t.count, room);
  w.u32(0);  // count, patched below
  uint8_t* data = w.reserve(want);
  if (data == nullptr && want > 0) return ERANGE;
  const ssize_t n = want == 0 ? 0 : ::pread(f->fd.get(), data, want, static_cast<off_t>(t.offset));
  if (n < 0) return errno_or(EIO);
  w.shrink(want - static_cast<size_t>(n));
  w.patch_u32(kHeaderSize, static_cast<uint32_t>(n));
  return 0;
}

int Server::on(const Twrite& t, ReplyWriter& w) {
  Fid* f = find(t.fid);
  if (f == nullptr) return EBADF;
  if (read_only_) return EROFS;
  if (!f->fd || (f->open_flags & O_ACCMODE) == O_RDONLY) return EBADF;
  const auto offset_end = t.offset + t.data.size();
  if (t.offset > static_cast<uint64_t>(INT64_MAX) || offset_end < t.offset ||
      offset_end > static_cast<uint64_t>(INT64_MAX)) {
    return EFBIG;
  }
  const ssize_t n = (f->open_flags & O_APPEND) ? ::write(f->fd.get(), t.data.data(), t.data.size())
                                               : ::pwrite(f->fd.get(), t.data.data(), t.data.size(),
                                                          static_cast<off_t>(t.offset));
  if (n < 0) return errno_or(EIO);
  w.u32(static_cast<uint32_t>(n));
  return 0;
}

int Server::on(const Tclunk& t, ReplyWriter& /*w*/) { return fids_.erase(t.fid) == 1 ? 0 : EBADF; }

int Server::on(const Tremove& t, ReplyWriter& /*w*/) {
  Fid* f = find(t.fid);
  if (f == nullptr) return EBADF;
  const std::string path = f->path;
  fids_.erase(t.fid);  // clunked whether or not the removal works
  if (read_only_) return EROFS;
  if (path.empty()) return EBUSY;  // the share root
  UniqueFd dir;
  if (const int r = open_beneath(parent_path(path), O_PATH | O_DIRECTORY, dir); r < 0) return -r;
  const std::string name(base_name(path));
  struct stat st {};
  if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return errno_or(EIO);
  if (::unlinkat(dir.get(), name.c_str(), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0) {
    return errno_or(EIO);
  }
  return 0;
}

int Server::on(const Tstatfs& t, ReplyWriter& w) {
  Fid* f = find(t.fid);
  if (f == nullptr) return EBADF;
  UniqueFd fd;
  if (const int r = open_beneath(f->path, O_PATH, fd); r < 0) return -r;
  struct statfs s {};
  if (::fstatfs(fd.get(), &s) != 0) return errno_or(EIO);
  w.u32(static_cast<uint32_t>(s.f_type));
  w.u32(static_cast<uint32_t>(s.f_bsize));
  w.u64(s.f_blocks);
  w.u64(s.f_bfree);
  w.u64(s.f_bavail);
  w.u64(s.f_files);
  w.u64(s.f_ffree);
  uint64_t fsid = 0;
  std::memcpy(&fsid, &s.f_fsid, std::min(sizeof fsid, sizeof s.f_fsid));
  w.u64(fsid);
  w.u32(static_cast<uint32_t>(s.f_namelen));
  return 0;
}

int Server::on(const Tlopen& t, ReplyWriter& w) {
  Fid* f = find(t.fid);
  if (f == nullptr) return EBADF;
  if (f->fd || f->is_xattr) return EBADF;
  const int flags = static_cast<int>(t.flags) & kOpenFlagsKept;
  if (read_only_ && writes(flags)) return EROFS;
  UniqueFd path_fd;
  if (const int r = open_beneath(f->path, O_PATH, path_fd); r < 0) return -r;
  struct stat st {};
  if (::fstat(path_fd.get(), &st) != 0) return errno_or(EIO);
  // Device nodes in the share stay closed: opening one would reach host hardware.
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) return EACCES;
  if (S_ISLNK(st.st_mode)) return ELOOP;
  if (S_ISDIR(st.st_mode) && (flags & O_ACCMODE) != O_RDONLY) return EISDIR;
  // Reopening the very inode checked above (the /proc link, not the path again) leaves no
  // window for the host to swap the path meanwhile. O_NONBLOCK: a FIFO must not hold the
  // device's worker.
  UniqueFd fd(::open(proc_fd_path(path_fd.get()).c_str(), flags | O_CLOEXEC | O_NONBLOCK));
  if (!fd) return errno_or(EIO);
  f->fd = std::move(fd);
  f->open_flags = flags;
  w.qid(qid_of(st));
  w.u32(0);  // iounit: the client uses msize
  return 0;
}

int Server::on(const Tlcreate& t, ReplyWriter& w) {
  Fid* f = find(t.fid);
  if (f == nullptr) return EBADF;
  if (f->fd || f->is_xattr) return EBADF;
  if (!valid_name(t.name)) return EINVAL;
  if (read_only_) return EROFS;
  std::string path = join_path(f->path, t.name);
  if (path.size() > kMaxPathLength) return ENAMETOOLONG;
  UniqueFd dir;
  if (const int r = open_dir(*f, dir); r < 0) return -r;
  const int flags =
      (static_cast<int>(t.flags) & ((kOpenFlagsKept & ~O_DIRECTORY) | O_EXCL)) | O_CREAT;
  const std::string name(t.name);
  UniqueFd fd(::openat(dir.get(), name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
                       static_cast<mode_t>(t.mode) & kGuestModeMask & ~S_ISVTX));
  if (!fd) return errno_or(EIO);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_or(EIO);
  if (!S_ISREG(st.st_mode)) return EEXIST;
  f->path = std::move(path);
  f->fd = std::move(fd);
  f->open_flags = flags;
  w.qid(qid_of(st));
  w.u32(0);
  return 0;
}

int Server::on(const Tsymlink& t, ReplyWriter& w) {
  Fid* f = find(t.fid);
  if (f == nullptr) return EBADF;
  if (!valid_name(t.name) || t.target.empty()) return EINVAL;
  if (read_only_) return EROFS;
  UniqueFd dir;
  if (const int r = open_dir(*f, dir); r < 0) return -r;
  // The target is stored as text and never followed by this server.
  const std::string name(t.name);
  const std::string target(t.target);
  if (::symlinkat(target.c_str(), dir.get(), name.c_str()) != 0) return errno_or(EIO);
  return reply_qid_of(dir.get(), name, w);
}

int Server::on(const Tmknod& t, ReplyWriter& w) {
  Fid* f = find(t.dfid);
  if (f == nullptr) return EBADF;
  if (!valid_name(t.name)) return EINVAL;
  if (read_only_) return EROFS;
  const mode_t type = static_cast<mode_t>(t.mode) & S_IFMT;
  // FIFOs, sockets and plain files only: a device node would give the guest host hardware.
  if (type != S_IFIFO && type != S_IFSOCK && type != S_IFREG) return EPERM;
  UniqueFd dir;
  if (const int r = open_dir(*f, dir); r < 0) return -r;
  const std::string name(t.name);
  if (::mknodat(dir.get(), name.c_str(), type | (static_cast<mode_t>(t.mode) & 0777), 0) != 0) {
    return errno_or(EIO);
  }
  return reply_qid_of(dir.get(), name, w);
}

int Server::on(const Trename& t, ReplyWriter& /*w*/) {
  Fid* f = find(t.fid);
  Fid* d = find(t.dfid);
  if (f == nullptr || d == nullptr) return EBADF;
  if (!valid_name(t.name)) return EINVAL;
  if (read_only_) return EROFS;
  if (f->path.empty()) return EBUSY;
  std::string to = join_path(d->path, t.name);
  if (to.size() > kMaxPathLength) return ENAMETOOLONG;
  UniqueFd from_dir;
  UniqueFd to_dir;
  if (const int r = open_beneath(parent_path(f->path), O_PATH | O_DIRECTORY, from_dir); r < 0) {
    return -r;
  }
  if (const int r = open_dir(*d, to_dir); r < 0) return -r;
  const std::string from_name(base_name(f->path));
  const std::string to_name(t.name);
  if (::renameat(from_dir.get(), from_name.c_str(), to_dir.get(), to_name.c_str()) != 0) {
    return errno_or(EIO);
  }
  move_paths(std::string(f->path), to);
  return 0;
}

int Server::on(const Treadlink& t, ReplyWriter& w) {
  Fid* f = find(t.fid);
  if (f == nullptr) return EBADF;
  UniqueFd fd;
  if (const int r = open_beneath(f->path, O_PATH, fd); r < 0) return -r;
  std::string target(kMaxPathLength, '\0');
  const ssize_t n = ::readlinkat(fd.get(), "", target.data(), target.size());
  if (n < 0) return errno == ENOENT ? EINVAL : errno_or(EIO);  // "" on a non-link: ENOENT
  if (static_cast<size_t>(n) >= target.size()) return ENAMETOOLONG;
  target.resize(static_cast<size_t>(n));
  w.str(target);
  return 0;
}

int Server::on(const Tgetattr& t, ReplyWriter& w) {
  Fid* f = find(t.fid);
  if (f == nullptr) return EBADF;
  struct stat st {};
  if (f->fd) {
    if (::fstat(f->fd.get(), &st) != 0) return errno_or(EIO);
  } else if (const int r = stat_path(f->path, st); r < 0) {
    return -r;
  }
  if (w.room() < kRgetattrBody) return ERANGE;
  w.u64(kGetattrBasic);
  w.qid(qid_of(st));
  w.u32(st.st_mode);
  w.u32(st.st_uid);
  w.u32(st.st_gid);
  w.u64(st.st_nlink);
  w.u64(st.st_rdev);
  w.u64(static_cast<uint64_t>(st.st_size));
  w.u64(static_cast<uint64_t>(st.st_blksize));
  w.u64(static_cast<uint64_t>(st.st_blocks));
  w.u64(static_cast<uint64_t>(st.st_atim.tv_sec));
  w.u64(static_cast<uint64_t>(st.st_atim.tv_nsec));
  w.u64(static_cast<uint64_t>(st.st_mtim.tv_sec));
  w.u64(static_cast<uint64_t>(st.st_mtim.tv_nsec));
  w.u64(static_cast<uint64_t>(st.st_ctim.tv_sec));
  w.u64(static_cast<uint64_t>(st.st_ctim.tv_nsec));
  for (int i = 0; i < 4; ++i) w.u64(0);  // btime, gen, data_version: not kept
  return 0;
}

int Server::on(const Tsetattr& t, ReplyWriter& /*w*/) {
  Fid* f = find(t.fid);
  if (f == nullptr) return EBADF;
  if (read_only_) return EROFS;
  UniqueFd fd;
  if (const int r = open_beneath(f->path, O_PATH, fd); r < 0) return -r;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_or(EIO);
  const bool symlink = S_ISLNK(st.st_mode);
  // Through /proc the calls reach exactly the inode opened above; a symlink's own mode and
  // size cannot change.
  const std::string self = proc_fd_path(fd.get());
  if (t.valid & kSetMode) {
    if (symlink) return EOPNOTSUPP;
    if (::chmod(self.c_str(), static_cast<mode_t>(t.mode) & kGuestModeMask) != 0) {
      return errno_or(EIO);
    }
  }
  if (t.valid & (kSetUid | kSetGid)) {
    const uid_t uid = (t.valid & kSetUid) ? static_cast<uid_t>(t.uid) : static_cast<uid_t>(-1);
    const gid_t gid = (t.valid & kSetGid) ? static_cast<gid_t>(t.gid) : static_cast<gid_t>(-1);
    if (::fchownat(fd.get(), "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0) {
      return errno_or(EIO);
    }
  }
  if (t.valid & kSetSize) {
    if (!S_ISREG(st.st_mode)) return S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
    if (t.size > static_cast<uint64_t>(INT64_MAX)) return EFBIG;
    if (f->fd && (f->open_flags & O_ACCMODE) != O_RDONLY) {
      if (::ftruncate(f->fd.get(), static_cast<off_t>(t.size)) != 0) return errno_or(EIO);
    } else {
      UniqueFd writable(::open(self.c_str(), O_WRONLY | O_CLOEXEC | O_NONBLOCK));
      if (!writable) return errno_or(EIO);
      if (::ftruncate(writable.get(), static_cast<off_t>(t.size)) != 0) return errno_or(EIO);
    }
  }
  if (t.valid & (kSetAtime | kSetMtime)) {
    timespec ts[2] = {{.tv_sec = 0, .tv_nsec = UTIME_OMIT}, {.tv_sec = 0, .tv_nsec = UTIME_OMIT}};
    if (t.valid & kSetAtime) {
      ts[0] = (t.valid & kSetAtimeSet)
                  ? timespec{.tv_sec = static_cast<time_t>(t.atime_sec),
                             .tv_nsec = static_cast<long>(t.atime_nsec % 1000000000ULL)}
                  : timespec{.tv_sec = 0, .tv_nsec = UTIME_NOW};
    }
    if (t.valid & kSetMtime) {
      ts[1] = (t.valid & kSetMtimeSet)
                  ? timespec{.tv_sec = static_cast<time_t>(t.mtime_sec),
                             .tv_nsec = static_cast<long>(t.mtime_nsec % 1000000000ULL)}
                  : timespec{.tv_sec = 0, .tv_nsec = UTIME_NOW};
    }
    const int r = symlink ? ::utimensat(fd.get(), "", ts, AT_EMPTY_PATH)
                          : ::utimensat(AT_FDCWD, self.c_str(), ts, 0);
    if (r != 0) return errno_or(EIO);
  }
  return 0;
}

int Server::on(const Txattrwalk& t, ReplyWriter& w) {
  Fid* f = find(t.fid);
  if (f == nullptr) return EBADF;
  // Extended attributes are not shared: the list is empty and no attribute exists.
  if (!t.name.empty()) return ENODATA;
  if (const int err = can_add(t.newfid); err != 0) return err;
  Fid list;
  list.path = f->path;
  list.is_xattr = true;
  fids_.emplace(t.newfid, std::move(list));
  w.u64(0);
  return 0;
}

int Server::on(const Txattrcreate& /*t*/, ReplyWriter& /*w*/) {
  return read_only_ ? EROFS : EOPNOTSUPP;
}

int Server::on(const Treaddir& t, ReplyWriter& w) {
  Fid* f = find(t.fid);
  if (f == nullptr) return EBADF;
  if (!f->fd) return EBADF;
  if (t.offset > static_cast<uint64_t>(INT64_MAX)) return EINVAL;
  const size_t limit = std::min<size_t>(t.count, w.room() > 4 ? w.room() - 4 : 0);
  w.u32(0);  // count, patched below
  if (::lseek(f->fd.get(), static_cast<off_t>(t.offset), SEEK_SET) < 0) return errno_or(EIO);
  // Host entries are read in chunks no larger than what fits; an entry that does not fit is
  // left for the next Treaddir, which seeks back to the offset of the last one sent.
  std::vector<uint8_t> buf(std::max<size_t>(limit, 512));
  size_t used = 0;
  bool full = false;
  while (!full) {
    const long n = ::syscall(SYS_getdents64, f->fd.get(), buf.data(), buf.size());
    if (n < 0) return errno_or(EIO);
    if (n == 0) break;
    for (long pos = 0; pos < n;) {
      dirent64 d{};
      const size_t header = offsetof(dirent64, d_name);
      std::memcpy(&d, buf.data() + pos, header);
      if (d.d_reclen == 0 || pos + d.d_reclen > n) return EIO;
      const char* name = reinterpret_cast<const char*>(buf.data() + pos + header);
      const std::string_view entry(name, ::strnlen(name, d.d_reclen - header));
      pos += d.d_reclen;
      const size_t need = kQidSize + 8 + 1 + 2 + entry.size();
      if (used + need > limit) {
        full = true;
        break;
      }
      Qid q;
      q.type = d.d_type == DT_DIR ? kQidDir : d.d_type == DT_LNK ? kQidSymlink : kQidFile;
      q.path = d.d_ino;
      w.qid(q);
      w.u64(static_cast<uint64_t>(d.d_off));
      w.u8(d.d_type);
      w.str(entry);
      used += need;
    }
  }
  w.patch_u32(kHeaderSize, static_cast<uint32_t>(used));
  return 0;
}

int Server::on(const Tfsync& t, ReplyWriter& /*w*/) {
  Fid* f = find(t.fid);
  if (f == nullptr) return EBADF;
  if (!f->fd) return 0;
  const int r = t.datasync != 0 ? ::fdatasync(f->fd.get()) : ::fsync(f->fd.get());
  return r == 0 ? 0 : errno_or(EIO);
}

int Server::on(const Tlock& t, ReplyWriter& w) {
  // Locks are the guest's own business: it is the only client of the share.
  if (find(t.fid) == nullptr) return EBADF;
  w.u8(kLockSuccess);
  return 0;
}

int Server::on(const Tgetlock& t, ReplyWriter& w) {
  if (find(t.fid) == nullptr) return EBADF;
  w.u8(kLockTypeUnlock);
  w.u64(t.start);
  w.u64(t.length);
  w.u32(t.proc_id);
  w.str(t.client_id);
  return 0;
}

int Server::on(const Tlink& t, ReplyWriter& /*w*/) {
  Fid* d = find(t.dfid);
  Fid* f = find(t.fid);
  if (d == nullptr || f == nullptr) return EBADF;
  if (!valid_name(t.name)) return EINVAL;
  if (read_only_) return EROFS;
  if (f->path.empty()) return EPERM;
  UniqueFd from_dir;
  UniqueFd to_dir;
  if (const int r = open_beneath(parent_path(f->path), O_PATH | O_DIRECTORY, from_dir); r < 0) {
    return -r;
  }
  if (const int r = open_dir(*d, to_dir); r < 0) return -r;
  const std::string from_name(base_name(f->path));
  const std::string to_name(t.name);
  // No AT_SYMLINK_FOLLOW: a symlink is linked as itself, never its target.
  if (::linkat(from_dir.get(), from_name.c_str(), to_dir.get(), to_name.c_str(), 0) != 0) {
    return errno_or(EIO);
  }
  return 0;
}

int Server::on(const Tmkdir& t, ReplyWriter& w) {
  Fid* d = find(t.dfid);
  if (d == nullptr) return EBADF;
  if (!valid_name(t.name)) return EINVAL;
  if (read_only_) return EROFS;
  UniqueFd dir;
  if (const int r = open_dir(*d, dir); r < 0) return -r;
  const std::string name(t.name);
  if (::mkdirat(dir.get(), name.c_str(), static_cast<mode_t>(t.mode) & kGuestModeMask) != 0) {
    return errno_or(EIO);
  }
  return reply_qid_of(dir.get(), name, w);
}

int Server::on(const Trenameat& t, ReplyWriter& /*w*/) {
  Fid* od = find(t.olddirfid);
  Fid* nd = find(t.newdirfid);
  if (od == nullptr || nd == nullptr) return EBADF;
  if (!valid_name(t.oldname) || !valid_name(t.newname)) return EINVAL;
  if (read_only_) return EROFS;
  std::string from = join_path(od->path, t.oldname);
  std::string to = join_path(nd->path, t.newname);
  if (to.size() > kMaxPathLength) return ENAMETOOLONG;
  UniqueFd from_dir;
  UniqueFd to_dir;
  if (const int r = open_dir(*od, from_dir); r < 0) return -r;
  if (const int r = open_dir(*nd, to_dir); r < 0) return -r;
  const std::string from_name(t.oldname);
  const std::string to_name(t.newname);
  if (::renameat(from_dir.get(), from_name.c_str(), to_dir.get(), to_name.c_str()) != 0) {
    return errno_or(EIO);
  }
  move_paths(from, to);
  return 0;
}

int Server::on(const Tunlinkat& t, ReplyWriter& /*w*/) {
  Fid* d = find(t.dirfid);
  if (d == nullptr) return EBADF;
  if (!valid_name(t.name)) return EINVAL;
  if ((t.flags & ~kUnlinkRemoveDir) != 0) return EINVAL;
  if (read_only_) return EROFS;
  UniqueFd dir;
  if (const int r = open_dir(*d, dir); r < 0) return -r;
  const std::string name(t.name);
  if (::unlinkat(dir.get(), name.c_str(), (t.flags & kUnlinkRemoveDir) ? AT_REMOVEDIR : 0) != 0) {
    return errno_or(EIO);
  }
  return 0;
}

}  // namespace vmm::virtio::p9
