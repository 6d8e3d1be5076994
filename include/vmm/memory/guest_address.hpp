#pragma once
// A guest-physical address. A distinct type so host pointers, offsets and guest addresses
// cannot be mixed up silently.
#include <compare>
#include <cstdint>
#include <optional>

#include "vmm/common/checked.hpp"

namespace vmm {

struct GuestAddress {
  uint64_t raw = 0;

  constexpr GuestAddress() noexcept = default;
  constexpr explicit GuestAddress(uint64_t value) noexcept : raw(value) {}

  [[nodiscard]] constexpr std::optional<GuestAddress> checked_add(uint64_t off) const noexcept {
    auto r = vmm::checked_add(raw, off);
    if (!r) return std::nullopt;
    return GuestAddress(*r);
  }
  // Unchecked; only for addresses the VMM itself chose (layout constants).
  [[nodiscard]] constexpr GuestAddress operator+(uint64_t off) const noexcept {
    return GuestAddress(raw + off);
  }
  constexpr auto operator<=>(const GuestAddress&) const noexcept = default;
};

}  // namespace vmm
