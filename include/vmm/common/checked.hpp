#pragma once
// Overflow-safe arithmetic for guest-controlled values.
#include <cstdint>
#include <optional>

namespace vmm {

[[nodiscard]] constexpr std::optional<uint64_t> checked_add(uint64_t a, uint64_t b) noexcept {
  uint64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

[[nodiscard]] constexpr std::optional<uint64_t> checked_mul(uint64_t a, uint64_t b) noexcept {
  uint64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// True when [base, base+len) lies inside [start, start+size) without any overflow.
[[nodiscard]] constexpr bool range_within(uint64_t base, uint64_t len, uint64_t start,
                                          uint64_t size) noexcept {
  if (base < start) return false;
  const uint64_t off = base - start;
  return off <= size && len <= size - off;
}

[[nodiscard]] constexpr uint64_t align_up(uint64_t v, uint64_t align) noexcept {
  return (v + align - 1) & ~(align - 1);
}
[[nodiscard]] constexpr uint64_t align_down(uint64_t v, uint64_t align) noexcept {
  return v & ~(align - 1);
}

}  // namespace vmm
