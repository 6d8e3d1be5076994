#include "vmm/resource_allocator.hpp"

#include <fmt/format.h>

#include "vmm/common/error.hpp"

namespace vmm {

AddressAllocator::AddressAllocator(std::string name, uint64_t base, uint64_t size)
    : name_(std::move(name)), base_(base), end_(base + size) {
  if (size == 0 || end_ < base_) throw Error(name_ + ": empty or wrapping address space");
}

void AddressAllocator::reserve(uint64_t base, uint64_t size, std::string_view owner) {
  if (size == 0 || base < base_ || base > end_ || size > end_ - base) {
    throw Error(fmt::format("{}: {} wants {:#x}+{:#x}, outside {:#x}..{:#x}", name_, owner, base,
                            size, base_, end_ - 1));
  }
  const uint64_t end = base + size;
  // The range starting at or after `base`, and the one before it, are the only candidates.
  auto next = used_.lower_bound(base);
  if (next != used_.end() && next->first < end) {
    throw Error(fmt::format("{}: {} at {:#x}+{:#x} overlaps {} at {:#x}", name_, owner, base, size,
                            next->second.owner, next->first));
  }
  if (next != used_.begin()) {
    const auto prev = std::prev(next);
    if (prev->second.end > base) {
      throw Error(fmt::format("{}: {} at {:#x}+{:#x} overlaps {} at {:#x}", name_, owner, base,
                              size, prev->second.owner, prev->first));
    }
  }
  used_.emplace(base, Used{end, std::string(owner)});
}

uint64_t AddressAllocator::allocate(uint64_t size, uint64_t align, std::string_view owner) {
  if (size == 0 || align == 0 || (align & (align - 1)) != 0) {
    throw Error(
        fmt::format("{}: bad request from {}: size {:#x}, align {:#x}", name_, owner, size, align));
  }
  auto align_up = [align](uint64_t v) -> std::optional<uint64_t> {
    const uint64_t r = (v + (align - 1)) & ~(align - 1);
    if (r < v) return std::nullopt;
    return r;
  };
  std::optional<uint64_t> candidate = align_up(base_);
  for (const auto& [start, used] : used_) {
    if (!candidate) break;
    if (*candidate < start && size <= start - *candidate) break;  // fits in the gap before
    if (used.end > *candidate) candidate = align_up(used.end);
  }
  if (!candidate || *candidate > end_ || size > end_ - *candidate) {
    throw ConfigError("devices", fmt::format("no room left in the {} space for {} ({:#x} bytes)",
                                             name_, owner, size));
  }
  reserve(*candidate, size, owner);
  return *candidate;
}

std::optional<std::string> AddressAllocator::owner_of(uint64_t address) const {
  auto it = used_.upper_bound(address);
  if (it == used_.begin()) return std::nullopt;
  --it;
  if (address < it->second.end) return it->second.owner;
  return std::nullopt;
}

IdAllocator::IdAllocator(std::string name, uint32_t first, uint32_t last)
    : name_(std::move(name)), first_(first), last_(last) {
  if (last < first) throw Error(name_ + ": empty range");
}

void IdAllocator::reserve(uint32_t id, std::string_view owner) {
  if (id < first_ || id > last_) {
    throw Error(fmt::format("{}: {} wants {}, outside {}..{}", name_, owner, id, first_, last_));
  }
  const auto [it, inserted] = used_.emplace(id, std::string(owner));
  if (!inserted) {
    throw Error(fmt::format("{}: {} wants {}, which {} holds", name_, owner, id, it->second));
  }
}

uint32_t IdAllocator::allocate(std::string_view owner, std::span<const uint32_t> candidates) {
  if (!candidates.empty()) {
    for (const uint32_t id : candidates) {
      if (id >= first_ && id <= last_ && is_free(id)) {
        reserve(id, owner);
        return id;
      }
    }
  } else {
    for (uint32_t id = first_;; ++id) {
      if (is_free(id)) {
        reserve(id, owner);
        return id;
      }
      if (id == last_) break;
    }
  }
  throw ConfigError("devices", fmt::format("no {} left for {}", name_, owner));
}

bool IdAllocator::is_free(uint32_t id) const { return !used_.contains(id); }

}  // namespace vmm
