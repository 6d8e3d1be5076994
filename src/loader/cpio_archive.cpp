#include "loader/cpio_archive.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <limits>

#include "vmm/common/error.hpp"

namespace vmm::loader {
namespace {

constexpr std::string_view kMagic = "070701";
constexpr std::string_view kTrailer = "TRAILER!!!";
constexpr uint32_t kPermissionBits = 07777;

void pad_to_4(std::vector<uint8_t>& out) {
  while (out.size() % 4 != 0) out.push_back(0);
}

void check_name(std::string_view name) {
  if (name.empty() || name.front() == '/' || name.find('\0') != std::string_view::npos) {
    throw Error(
        fmt::format("cpio entry name '{}' must be relative, non-empty and without NUL", name));
  }
}

void check_mode(uint32_t mode) {
  if ((mode & ~kPermissionBits) != 0)
    throw Error(fmt::format("cpio mode {:o} has bits outside 07777", mode));
}

}  // namespace

void CpioArchive::add_directory(std::string_view name, uint32_t mode) {
  check_name(name);
  check_mode(mode);
  add_entry(name, S_IFDIR | mode, 2, {});
}

void CpioArchive::add_file(std::string_view name, std::span<const uint8_t> data, uint32_t mode) {
  check_name(name);
  check_mode(mode);
  if (data.size() > std::numeric_limits<uint32_t>::max()) {
    throw Error(fmt::format("{}: {} bytes is too big for a cpio archive", name, data.size()));
  }
  add_entry(name, S_IFREG | mode, 1, data);
}

void CpioArchive::add_entry(std::string_view name, uint32_t type_and_mode, uint32_t nlink,
                            std::span<const uint8_t> data) {
  // c_ino c_mode c_uid c_gid c_nlink c_mtime c_filesize c_devmajor c_devminor c_rdevmajor
  // c_rdevminor c_namesize (with its NUL) c_check, each 8 hex digits.
  const std::string header = fmt::format(
      "{}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}", kMagic,
      next_inode_++, type_and_mode, 0, 0, nlink, 0, data.size(), 0, 0, 0, 0, name.size() + 1, 0);
  bytes_.insert(bytes_.end(), header.begin(), header.end());
  bytes_.insert(bytes_.end(), name.begin(), name.end());
  bytes_.push_back(0);
  pad_to_4(bytes_);  // the data starts 4-aligned
  bytes_.insert(bytes_.end(), data.begin(), data.end());
  pad_to_4(bytes_);  // and so does the next header
}

std::vector<uint8_t> CpioArchive::finish() && {
  add_entry(kTrailer, 0, 1, {});
  return std::move(bytes_);
}

}  // namespace vmm::loader
