#pragma once
// Files inside an instance's root, for `vmm file push|pull` and LXD's /files endpoint. Every
// path is resolved inside the root (openat2 with RESOLVE_IN_ROOT): a symlink in the instance
// that points at /etc or ".." stays in the instance.
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace vmm::instance {

// The most a pull returns or a push writes at once.
inline constexpr uint64_t kMaxFileTransfer = uint64_t{64} << 20;

enum class FileType { kFile, kDirectory };
[[nodiscard]] const char* file_type_name(FileType type);  // "file", "directory"
// "file" or "directory"; vmm::ConfigError otherwise.
[[nodiscard]] FileType parse_file_type(const std::string& text);

struct FileEntry {
  FileType type = FileType::kFile;
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t mode = 0;                   // permission bits
  std::string content;               // a file's
  std::vector<std::string> entries;  // a directory's names, sorted
};

struct FileWrite {
  FileType type = FileType::kFile;
  std::optional<uid_t> uid;  // unset: root's, or the existing file's
  std::optional<gid_t> gid;
  std::optional<mode_t> mode;  // unset: 0644 (0755 for a directory), or the existing one's
  bool append = false;
  std::string content;
};

// An absolute path inside the instance, checked: vmm::ConfigError otherwise.
void check_instance_path(const std::string& path);

// vmm::NotFoundError when the path does not exist; vmm::ConfigError for something that is
// neither a file nor a directory, or a file over kMaxFileTransfer.
[[nodiscard]] FileEntry read_instance_file(const std::filesystem::path& rootfs,
                                           const std::string& path);
// Creates missing parent directories (root's, 0755).
void write_instance_file(const std::filesystem::path& rootfs, const std::string& path,
                         const FileWrite& write);
// A file, or an empty directory. vmm::NotFoundError when it does not exist.
void delete_instance_file(const std::filesystem::path& rootfs, const std::string& path);

}  // namespace vmm::instance
