#include "container/path_in_root.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "vmm/common/error.hpp"

namespace vmm::container {
namespace {

int openat2_in_root(int root_fd, const std::string& rel) {
  open_how how{};
  how.flags = O_PATH | O_CLOEXEC;
  // Magic links (/proc/self/root and friends) would let a symlink jump anywhere.
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  const std::string p = rel.empty() ? "." : rel;
  for (;;) {
    const long fd = ::syscall(SYS_openat2, root_fd, p.c_str(), &how, sizeof(how));
    if (fd >= 0) return static_cast<int>(fd);
    // EAGAIN: a concurrent rename raced the lookup; the kernel asks us to retry.
    if (errno != EAGAIN) return -1;
  }
}

std::string join(const std::vector<std::string>& parts, size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    if (i) out += '/';
    out += parts[i];
  }
  return out;
}

}  // namespace

std::vector<std::string> path_components(std::string_view path) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= path.size()) {
    const size_t next = path.find('/', pos);
    const auto part =
        path.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos);
    if (!part.empty() && part != ".") out.emplace_back(part);
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return out;
}

UniqueFd open_in_root(int root_fd, std::string_view path, bool* missing) {
  const auto parts = path_components(path);
  const int fd = openat2_in_root(root_fd, join(parts, parts.size()));
  if (fd < 0) {
    if (errno == ENOENT && missing) {
      *missing = true;
      return {};
    }
    throw system_error("cannot resolve " + std::string(path) + " inside the container root", errno);
  }
  if (missing) *missing = false;
  return UniqueFd(fd);
}

UniqueFd open_or_create_in_root(int root_fd, std::string_view path, CreateKind kind) {
  const auto parts = path_components(path);
  UniqueFd parent(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
  if (!parent) throw system_error("dup", errno);
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i] == "..") {
      // Let the kernel clamp ".." at the root.
      UniqueFd up(openat2_in_root(root_fd, join(parts, i + 1)));
      if (!up) throw system_error("cannot resolve " + std::string(path), errno);
      parent = std::move(up);
      continue;
    }
    const bool last = i + 1 == parts.size();
    for (int attempt = 0;; ++attempt) {
      UniqueFd next(openat2_in_root(root_fd, join(parts, i + 1)));
      if (next) {
        parent = std::move(next);
        break;
      }
      if (errno != ENOENT || attempt > 0) {
        // A second ENOENT after EEXIST: the name is a symlink to nowhere. Refuse it rather
        // than guess where it should point.
        throw ConfigError("mount destination " + std::string(path) +
                          " cannot be created inside the container root (dangling symlink?)");
      }
      int rc = 0;
      if (last && kind == CreateKind::kFile) {
        rc = ::openat(parent.get(), parts[i].c_str(),
                      O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY | O_CLOEXEC, 0644);
        if (rc >= 0) ::close(rc);
      } else if (kind != CreateKind::kNone || !last) {
        rc = ::mkdirat(parent.get(), parts[i].c_str(), 0755);
      } else {
        throw system_error("cannot resolve " + std::string(path) + " inside the container root",
                           ENOENT);
      }
      if (rc < 0 && errno != EEXIST) {
        throw system_error("cannot create " + std::string(path) + " inside the container root",
                           errno);
      }
    }
  }
  return parent;
}

std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

}  // namespace vmm::container
