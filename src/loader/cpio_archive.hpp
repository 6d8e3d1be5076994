#pragma once
// A newc ("070701") cpio archive built in memory, the format the kernel unpacks as an
// initramfs. Enough for the few entries vmm adds to a guest's initramfs: directories and
// regular files, owned by root, with mtime 0.
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace vmm::loader {

class CpioArchive final {
 public:
  // `name` is the path inside the archive without a leading '/' ("vmm/vmm-agent"); `mode` the
  // permission bits (at most 07777). Parents must be added before their entries (the kernel
  // creates nothing implicitly). Throws vmm::Error for an empty name, one with a NUL or a
  // leading '/', bad mode bits, or a file larger than the format's 4 GiB - 1.
  void add_directory(std::string_view name, uint32_t mode);
  void add_file(std::string_view name, std::span<const uint8_t> data, uint32_t mode);

  // The archive with its TRAILER!!! entry; its size is a multiple of 4.
  [[nodiscard]] std::vector<uint8_t> finish() &&;

 private:
  void add_entry(std::string_view name, uint32_t type_and_mode, uint32_t nlink,
                 std::span<const uint8_t> data);

  std::vector<uint8_t> bytes_;
  uint32_t next_inode_ = 1;
};

}  // namespace vmm::loader
