#pragma once
// A 9P2000.L file server over one host directory (the share root), as the Linux v9fs client
// uses it: one request in, one reply out, synchronous host system calls.
//
// The guest is hostile, so the share root is a hard boundary. A fid names a path relative to
// the root, made of components the server checked itself (no "/", no "." or "..", walks of
// ".." are clamped at the root); every access resolves that path from the root descriptor with
// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) and never follows the
// last component's symlink. The guest's kernel resolves symlinks itself, so no legitimate walk
// needs the host to follow one: a symlink anywhere in a path (made by the guest, or by the host,
// pointing anywhere) is an error, and `..` cannot climb out. A read-only share refuses every
// change with EROFS.
//
// Files are created and accessed with the credentials of the vmm process (no uid mapping, as
// QEMU's security_model=none); the guest cannot create device nodes or set-user/group-ID bits
// on the host, and device nodes found in the share are not opened.
//
// Not thread-safe: one thread (the device's worker) calls handle() at a time.
#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "vmm/common/unique_fd.hpp"
#include "vmm/virtio/p9_protocol.hpp"

namespace vmm::virtio::p9 {

// At most this many fids per session, so a guest cannot make the host allocate without bound.
inline constexpr size_t kMaxFids = 4096;

class Server final {
 public:
  // Opens `root` (a directory). Throws vmm::ConfigError when it is missing or not a directory.
  Server(const std::filesystem::path& root, bool read_only);

  // Handles one request message (exactly one 9P message) and appends one reply of at most
  // `reply_limit` bytes (at least kIoHeaderSize, so an Rlerror always fits) to `reply`.
  // Nothing is appended when the message has no usable header: there is no tag to answer.
  void handle(std::span<const uint8_t> message, uint32_t reply_limit, std::vector<uint8_t>& reply);

  // The session's message size: what Tversion agreed on (kMinMsize before).
  [[nodiscard]] uint32_t msize() const noexcept { return msize_; }
  [[nodiscard]] size_t fid_count() const noexcept { return fids_.size(); }
  [[nodiscard]] bool read_only() const noexcept { return read_only_; }
  // Forgets the session (every fid), as a new Tversion or a device reset does.
  void reset() noexcept;

 private:
  struct Fid {
    std::string path;  // relative to the root: "" or "a/b/c"
    UniqueFd fd;       // set by Tlopen / Tlcreate
    int open_flags = 0;
    bool is_xattr = false;  // an (always empty) attribute list from Txattrwalk
  };

  // Each returns 0 or a Linux errno; on success it wrote the reply body into `w`.
  int on(const Tversion& t, ReplyWriter& w);
  int on(const Tauth& t, ReplyWriter& w);
  int on(const Tattach& t, ReplyWriter& w);
  int on(const Tflush& t, ReplyWriter& w);
  int on(const Twalk& t, ReplyWriter& w);
  int on(const Tread& t, ReplyWriter& w);
  int on(const Twrite& t, ReplyWriter& w);
  int on(const Tclunk& t, ReplyWriter& w);
  int on(const Tremove& t, ReplyWriter& w);
  int on(const Tstatfs& t, ReplyWriter& w);
  int on(const Tlopen& t, ReplyWriter& w);
  int on(const Tlcreate& t, ReplyWriter& w);
  int on(const Tsymlink& t, ReplyWriter& w);
  int on(const Tmknod& t, ReplyWriter& w);
  int on(const Trename& t, ReplyWriter& w);
  int on(const Treadlink& t, ReplyWriter& w);
  int on(const Tgetattr& t, ReplyWriter& w);
  int on(const Tsetattr& t, ReplyWriter& w);
  int on(const Txattrwalk& t, ReplyWriter& w);
  int on(const Txattrcreate& t, ReplyWriter& w);
  int on(const Treaddir& t, ReplyWriter& w);
  int on(const Tfsync& t, ReplyWriter& w);
  int on(const Tlock& t, ReplyWriter& w);
  int on(const Tgetlock& t, ReplyWriter& w);
  int on(const Tlink& t, ReplyWriter& w);
  int on(const Tmkdir& t, ReplyWriter& w);
  int on(const Trenameat& t, ReplyWriter& w);
  int on(const Tunlinkat& t, ReplyWriter& w);

  Fid* find(uint32_t fid) noexcept;
  // A new fid number is free and the table has room: 0, or the errno to answer.
  [[nodiscard]] int can_add(uint32_t fid) const noexcept;
  // Opens `path` beneath the root without following any symlink (O_PATH unless `flags` say
  // otherwise). A negative errno on failure.
  [[nodiscard]] int open_beneath(const std::string& path, int flags, UniqueFd& out) const;
  // The directory a fid names, opened O_PATH, for the *at() calls.
  [[nodiscard]] int open_dir(const Fid& dir, UniqueFd& out) const;
  // Stats `path` (not following a final symlink).
  [[nodiscard]] int stat_path(const std::string& path, struct stat& st) const;
  // After a rename: fids under `from` now live under `to`.
  void move_paths(const std::string& from, const std::string& to);

  UniqueFd root_;
  bool read_only_;
  uint32_t msize_ = kMinMsize;
  std::unordered_map<uint32_t, Fid> fids_;
};

// Whether `name` may be a single path element: non-empty, no '/', not "." or "..".
[[nodiscard]] bool valid_name(std::string_view name) noexcept;
// `parent` joined with `name` ("" is the root).
[[nodiscard]] std::string join_path(const std::string& parent, std::string_view name);
// The parent of `path` ("" for a top-level entry and for the root itself).
[[nodiscard]] std::string parent_path(const std::string& path);

}  // namespace vmm::virtio::p9
