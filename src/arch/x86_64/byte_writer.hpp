#pragma once
// Little-endian byte appends for firmware tables (ACPI, AML, SMBIOS, the MP table). The tables
// are byte-packed, so building them as bytes avoids any dependence on struct layout.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace vmm::x86_64 {

class ByteWriter {
 public:
  void u8(uint8_t v) { bytes_.push_back(v); }
  void u16(uint16_t v) {
    u8(static_cast<uint8_t>(v));
    u8(static_cast<uint8_t>(v >> 8));
  }
  void u32(uint32_t v) {
    u16(static_cast<uint16_t>(v));
    u16(static_cast<uint16_t>(v >> 16));
  }
  void u64(uint64_t v) {
    u32(static_cast<uint32_t>(v));
    u32(static_cast<uint32_t>(v >> 32));
  }
  // A fixed-width identifier, space-padded (or cut) to `width`.
  void text(std::string_view s, std::size_t width) {
    for (std::size_t i = 0; i < width; ++i) u8(i < s.size() ? static_cast<uint8_t>(s[i]) : ' ');
  }
  // The characters of `s`, as they are (no terminator, no padding).
  void chars(std::string_view s) {
    for (const char c : s) u8(static_cast<uint8_t>(c));
  }
  void bytes(std::span<const uint8_t> b) { bytes_.insert(bytes_.end(), b.begin(), b.end()); }
  void zeros(std::size_t n) { bytes_.insert(bytes_.end(), n, 0); }
  // Zero bytes up to the next multiple of `alignment`.
  void align(std::size_t alignment) { zeros((alignment - bytes_.size() % alignment) % alignment); }

  void put_u8_at(std::size_t off, uint8_t v) { bytes_.at(off) = v; }
  void put_u16_at(std::size_t off, uint16_t v) {
    for (std::size_t i = 0; i < 2; ++i) bytes_.at(off + i) = static_cast<uint8_t>(v >> (8 * i));
  }
  void put_u32_at(std::size_t off, uint32_t v) {
    for (std::size_t i = 0; i < 4; ++i) bytes_.at(off + i) = static_cast<uint8_t>(v >> (8 * i));
  }
  // Sets byte `off` so that bytes [begin, end) sum to 0 modulo 256.
  void fix_checksum_at(std::size_t off, std::size_t begin = 0, std::size_t end = SIZE_MAX) {
    end = std::min(end, bytes_.size());
    bytes_.at(off) = 0;
    const auto first = bytes_.begin() + static_cast<std::ptrdiff_t>(begin);
    const auto last = bytes_.begin() + static_cast<std::ptrdiff_t>(end);
    const unsigned sum =
        std::accumulate(first, last, 0U, [](unsigned acc, uint8_t b) { return acc + b; });
    bytes_.at(off) = static_cast<uint8_t>(0x100U - (sum & 0xffU));
  }

  [[nodiscard]] std::size_t size() const noexcept { return bytes_.size(); }
  [[nodiscard]] const std::vector<uint8_t>& bytes() const noexcept { return bytes_; }
  [[nodiscard]] std::vector<uint8_t> take() noexcept { return std::move(bytes_); }

 private:
  std::vector<uint8_t> bytes_;
};

}  // namespace vmm::x86_64
