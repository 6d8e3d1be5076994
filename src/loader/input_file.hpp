#pragma once
// A user-supplied input file (kernel, initrd) opened read-only. Every failure is a ConfigError
// naming the path, because a bad path is something the user can fix.
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "vmm/common/unique_fd.hpp"

namespace vmm::loader {

class InputFile final {
 public:
  // Throws ConfigError "<path>: <strerror>" when the file cannot be opened or is not a
  // regular file.
  static InputFile open(const std::filesystem::path& path);

  [[nodiscard]] uint64_t size() const noexcept { return size_; }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  // Reads exactly out.size() bytes from offset 0 (the caller sizes `out` from size()).
  void read_into(std::span<uint8_t> out) const;
  [[nodiscard]] std::vector<uint8_t> read_all() const;

 private:
  InputFile(UniqueFd fd, std::filesystem::path path, uint64_t size)
      : fd_(std::move(fd)), path_(std::move(path)), size_(size) {}

  UniqueFd fd_;
  std::filesystem::path path_;
  uint64_t size_ = 0;
};

}  // namespace vmm::loader
