#pragma once
// Guest RAM: host mappings placed at guest-physical addresses. Every access from device
// models goes through these accessors, which refuse any range that is not wholly inside one
// RAM region (with overflow-safe arithmetic), so a guest-supplied address can never reach host
// memory outside guest RAM.
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "vmm/memory/guest_address.hpp"
#include "vmm/memory/memory_mapping.hpp"

namespace vmm {

struct GuestRegion {
  GuestAddress start;
  uint64_t size = 0;
  uint8_t* host = nullptr;

  [[nodiscard]] GuestAddress end() const noexcept { return GuestAddress(start.raw + size); }
};

class GuestMemory final {
 public:
  // `ram_size` bytes of RAM starting at guest address 0; the part that would overlap
  // [hole_start, hole_end) (the 32-bit MMIO hole) is placed from hole_end upwards instead.
  // Throws vmm::Error when the host cannot map it.
  static GuestMemory create(uint64_t ram_size, uint64_t hole_start, uint64_t hole_end);

  // Arbitrary, non-overlapping regions (unit tests, other layouts). Sorted by address.
  struct RegionSpec {
    GuestAddress start;
    uint64_t size;
  };
  static GuestMemory create_regions(const std::vector<RegionSpec>& specs);

  GuestMemory() = default;
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;
  GuestMemory(GuestMemory&&) noexcept = default;
  GuestMemory& operator=(GuestMemory&&) noexcept = default;
  ~GuestMemory() = default;

  [[nodiscard]] std::span<const GuestRegion> regions() const noexcept { return regions_; }
  // Total bytes of RAM.
  [[nodiscard]] uint64_t ram_size() const noexcept { return ram_size_; }
  // One past the highest RAM address.
  [[nodiscard]] GuestAddress end() const noexcept;
  // One past the highest RAM address below `limit` (e.g. the 4 GiB line), 0 if none.
  [[nodiscard]] GuestAddress end_below(uint64_t limit) const noexcept;

  // Host view of [addr, addr+len) when the whole range is RAM in one region.
  [[nodiscard]] std::optional<std::span<uint8_t>> span(GuestAddress addr,
                                                       uint64_t len) const noexcept;
  [[nodiscard]] bool contains(GuestAddress addr, uint64_t len) const noexcept {
    return span(addr, len).has_value();
  }

  // Copy between guest RAM and host buffers. False (and nothing copied) when out of range.
  [[nodiscard]] bool read(GuestAddress addr, std::span<uint8_t> out) const noexcept;
  [[nodiscard]] bool write(GuestAddress addr, std::span<const uint8_t> in) const noexcept;
  [[nodiscard]] bool fill(GuestAddress addr, uint64_t len, uint8_t value) const noexcept;

  template <typename T>
  [[nodiscard]] std::optional<T> read_obj(GuestAddress addr) const noexcept {
    static_assert(std::is_trivially_copyable_v<T>);
    auto s = span(addr, sizeof(T));
    if (!s) return std::nullopt;
    T value;
    std::memcpy(&value, s->data(), sizeof(T));
    return value;
  }
  template <typename T>
  [[nodiscard]] bool write_obj(GuestAddress addr, const T& value) const noexcept {
    static_assert(std::is_trivially_copyable_v<T>);
    auto s = span(addr, sizeof(T));
    if (!s) return false;
    std::memcpy(s->data(), &value, sizeof(T));
    return true;
  }

 private:
  std::vector<MemoryMapping> mappings_;
  std::vector<GuestRegion> regions_;
  uint64_t ram_size_ = 0;
};

}  // namespace vmm
