#include "instance/vm_disk.hpp"

#include <algorithm>
#include <fstream>

#include "instance/child_process.hpp"
#include "vmm/common/error.hpp"

namespace vmm::instance {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kHeadroom = 256 * kMiB;
constexpr uint64_t kMinDefaultSize = 512 * kMiB;

}  // namespace

uint64_t default_root_disk_size(uint64_t tree_bytes) {
  const uint64_t wanted = tree_bytes * 2 + kHeadroom;
  const uint64_t rounded = (wanted + kMiB - 1) / kMiB * kMiB;
  return std::max(rounded, kMinDefaultSize);
}

uint64_t tree_bytes(const fs::path& root) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::none, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::file_status status = it->symlink_status(ec);
    if (ec) continue;
    if (fs::is_regular_file(status)) {
      total += it->file_size(ec);
    } else if (fs::is_symlink(status)) {
      total += fs::read_symlink(it->path(), ec).string().size();
    }
  }
  if (ec) throw Error("cannot read " + root.string() + ": " + ec.message());
  return total;
}

void make_root_disk(const fs::path& tree, const fs::path& disk, uint64_t size) {
  std::error_code ec;
  fs::remove(disk, ec);
  {
    // A sparse file of the full size: blocks are used as the guest writes them.
    std::ofstream create(disk, std::ios::binary | std::ios::trunc);
    if (!create) throw Error("cannot create " + disk.string());
  }
  fs::resize_file(disk, size);
  try {
    run_checked({"mkfs.ext4", "-q", "-F", "-L", "vmmroot", "-E", "root_owner=0:0", "-d",
                 tree.string(), disk.string()},
                "cannot make the root disk (is root.size big enough?)");
  } catch (...) {
    fs::remove(disk, ec);
    throw;
  }
}

void copy_disk(const fs::path& from, const fs::path& to) {
  run_checked({"cp", "--reflink=auto", "--sparse=always", from.string(), to.string()},
              "cannot copy " + from.string());
}

}  // namespace vmm::instance
