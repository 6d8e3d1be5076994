#include "instance/instance_files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "container/path_in_root.hpp"
#include "vmm/common/error.hpp"
#include "vmm/common/unique_fd.hpp"

namespace vmm::instance {
namespace {

namespace fs = std::filesystem;

UniqueFd open_root(const fs::path& rootfs) {
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) throw system_error("cannot open the root " + rootfs.string(), errno);
  return root;
}

// The object an O_PATH descriptor names, opened for real.
UniqueFd reopen(int path_fd, int flags, const std::string& path) {
  UniqueFd fd(::open(container::fd_path(path_fd).c_str(), flags | O_CLOEXEC));
  if (!fd) throw system_error("cannot open " + path, errno);
  return fd;
}

std::string read_all(int fd, const std::string& path) {
  std::string content;
  std::array<char, 65536> buffer{};
  while (true) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw system_error("cannot read " + path, errno);
    if (n == 0) break;
    if (content.size() + static_cast<size_t>(n) > kMaxFileTransfer) {
      throw ConfigError(path + " is larger than " + std::to_string(kMaxFileTransfer >> 20) +
                        " MiB");
    }
    content.append(buffer.data(), static_cast<size_t>(n));
  }
  return content;
}

void write_all(int fd, const std::string& content, const std::string& path) {
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw system_error("cannot write " + path, errno);
    done += static_cast<size_t>(n);
  }
}

std::vector<std::string> list_directory(int fd, const std::string& path) {
  // fdopendir takes the descriptor over: give it its own.
  const int own = ::dup(fd);
  if (own < 0) throw system_error("cannot list " + path, errno);
  DIR* dir = ::fdopendir(own);
  if (dir == nullptr) {
    ::close(own);
    throw system_error("cannot list " + path, errno);
  }
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

const char* file_type_name(FileType type) {
  return type == FileType::kDirectory ? "directory" : "file";
}

FileType parse_file_type(const std::string& text) {
  if (text.empty() || text == "file") return FileType::kFile;
  if (text == "directory") return FileType::kDirectory;
  throw ConfigError("file type \"" + text + "\" is not supported (file or directory)");
}

void check_instance_path(const std::string& path) {
  if (path.empty() || path.front() != '/') {
    throw ConfigError("path \"" + path + "\" must be absolute");
  }
  if (path.find('\0') != std::string::npos) throw ConfigError("a path holds a NUL byte");
  if (container::path_components(path).empty()) throw ConfigError("the path names the root");
}

FileEntry read_instance_file(const fs::path& rootfs, const std::string& path) {
  check_instance_path(path);
  const UniqueFd root = open_root(rootfs);
  bool missing = false;
  const UniqueFd target = container::open_in_root(root.get(), path, &missing);
  if (missing || !target) throw NotFoundError(path + " not found in the instance");
  struct stat st {};
  if (::fstat(target.get(), &st) != 0) throw system_error("cannot stat " + path, errno);
  FileEntry entry;
  entry.uid = st.st_uid;
  entry.gid = st.st_gid;
  entry.mode = st.st_mode & 07777;
  if (S_ISDIR(st.st_mode)) {
    entry.type = FileType::kDirectory;
    const UniqueFd dir = reopen(target.get(), O_RDONLY | O_DIRECTORY, path);
    entry.entries = list_directory(dir.get(), path);
    return entry;
  }
  if (!S_ISREG(st.st_mode)) throw ConfigError(path + " is neither a file nor a directory");
  if (static_cast<uint64_t>(st.st_size) > kMaxFileTransfer) {
    throw ConfigError(path + " is larger than " + std::to_string(kMaxFileTransfer >> 20) + " MiB");
  }
  const UniqueFd file = reopen(target.get(), O_RDONLY | O_NOCTTY, path);
  entry.content = read_all(file.get(), path);
  return entry;
}

void write_instance_file(const fs::path& rootfs, const std::string& path, const FileWrite& write) {
  check_instance_path(path);
  if (write.content.size() > kMaxFileTransfer) {
    throw ConfigError("a file of more than " + std::to_string(kMaxFileTransfer >> 20) +
                      " MiB cannot be pushed at once");
  }
  if (write.mode && (*write.mode & ~07777U) != 0) throw ConfigError("mode must be octal 0-7777");
  const UniqueFd root = open_root(rootfs);
  bool missing = false;
  {
    const UniqueFd existing = container::open_in_root(root.get(), path, &missing);
    if (!missing) {
      struct stat st {};
      if (::fstat(existing.get(), &st) != 0) throw system_error("cannot stat " + path, errno);
      const bool is_dir = S_ISDIR(st.st_mode);
      if (is_dir != (write.type == FileType::kDirectory) || (!is_dir && !S_ISREG(st.st_mode))) {
        throw StateError(path + " exists and is not a " + file_type_name(write.type));
      }
    }
  }
  const bool directory = write.type == FileType::kDirectory;
  UniqueFd target;
  try {
    target = container::open_or_create_in_root(
        root.get(), path,
        directory ? container::CreateKind::kDirectory : container::CreateKind::kFile);
  } catch (const Error&) {
    throw StateError("cannot create " + path + " in the instance (a symlink to nowhere?)");
  }
  const UniqueFd fd =
      directory
          ? reopen(target.get(), O_RDONLY | O_DIRECTORY, path)
          : reopen(target.get(), O_WRONLY | O_NOCTTY | (write.append ? O_APPEND : O_TRUNC), path);
  if (!directory) write_all(fd.get(), write.content, path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw system_error("cannot stat " + path, errno);
  const uid_t uid = write.uid.value_or(missing ? 0 : st.st_uid);
  const gid_t gid = write.gid.value_or(missing ? 0 : st.st_gid);
  if (::fchown(fd.get(), uid, gid) != 0) throw system_error("cannot chown " + path, errno);
  const mode_t fallback = directory ? 0755 : 0644;
  const mode_t mode = write.mode.value_or(missing ? fallback : (st.st_mode & 07777));
  if (::fchmod(fd.get(), mode) != 0) throw system_error("cannot chmod " + path, errno);
}

void delete_instance_file(const fs::path& rootfs, const std::string& path) {
  check_instance_path(path);
  const auto parts = container::path_components(path);
  const std::string& name = parts.back();
  if (name == "..") throw ConfigError("path \"" + path + "\" ends in ..");
  std::string parent_path = "/";
  for (size_t i = 0; i + 1 < parts.size(); ++i) parent_path += parts[i] + "/";
  const UniqueFd root = open_root(rootfs);
  bool missing = false;
  const UniqueFd parent_ref = container::open_in_root(root.get(), parent_path, &missing);
  if (missing || !parent_ref) throw NotFoundError(path + " not found in the instance");
  const UniqueFd parent = reopen(parent_ref.get(), O_RDONLY | O_DIRECTORY, parent_path);
  struct stat st {};
  if (::fstatat(parent.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) throw NotFoundError(path + " not found in the instance");
    throw system_error("cannot stat " + path, errno);
  }
  if (::unlinkat(parent.get(), name.c_str(), S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) != 0) {
    if (errno == ENOTEMPTY) throw StateError(path + " is a directory that is not empty");
    throw system_error("cannot delete " + path, errno);
  }
}

}  // namespace vmm::instance
