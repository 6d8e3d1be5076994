#include "vmm/memory/guest_memory.hpp"

#include <algorithm>

#include "vmm/common/checked.hpp"
#include "vmm/common/error.hpp"

namespace vmm {

GuestMemory GuestMemory::create(uint64_t ram_size, uint64_t hole_start, uint64_t hole_end) {
  if (ram_size == 0) throw ConfigError("guest memory size must not be zero");
  std::vector<RegionSpec> specs;
  const uint64_t low = std::min(ram_size, hole_start);
  specs.push_back({GuestAddress(0), low});
  if (ram_size > low) specs.push_back({GuestAddress(hole_end), ram_size - low});
  return create_regions(specs);
}

GuestMemory GuestMemory::create_regions(const std::vector<RegionSpec>& specs) {
  GuestMemory mem;
  uint64_t next_free = 0;
  for (const auto& spec : specs) {
    if (spec.size == 0) throw Error("guest memory region of zero size");
    auto end = checked_add(spec.start.raw, spec.size);
    if (!end || spec.start.raw < next_free) {
      throw Error("guest memory regions overlap or are not sorted");
    }
    next_free = *end;
    auto mapping = MemoryMapping::anonymous(spec.size);
    mem.regions_.push_back({spec.start, spec.size, mapping.data()});
    mem.mappings_.push_back(std::move(mapping));
    mem.ram_size_ += spec.size;
  }
  return mem;
}

GuestAddress GuestMemory::end() const noexcept {
  return regions_.empty() ? GuestAddress(0) : regions_.back().end();
}

GuestAddress GuestMemory::end_below(uint64_t limit) const noexcept {
  uint64_t best = 0;
  for (const auto& r : regions_) {
    if (r.start.raw >= limit) break;
    best = std::min(r.end().raw, limit);
  }
  return GuestAddress(best);
}

std::optional<std::span<uint8_t>> GuestMemory::span(GuestAddress addr,
                                                    uint64_t len) const noexcept {
  // Few regions (two on x86): a linear scan beats anything cleverer.
  for (const auto& r : regions_) {
    if (range_within(addr.raw, len, r.start.raw, r.size)) {
      return std::span<uint8_t>(r.host + (addr.raw - r.start.raw), len);
    }
  }
  return std::nullopt;
}

bool GuestMemory::read(GuestAddress addr, std::span<uint8_t> out) const noexcept {
  auto s = span(addr, out.size());
  if (!s) return false;
  // An empty span may have no storage at all: memcpy must not see its null pointer.
  if (!out.empty()) std::memcpy(out.data(), s->data(), out.size());
  return true;
}

bool GuestMemory::write(GuestAddress addr, std::span<const uint8_t> in) const noexcept {
  auto s = span(addr, in.size());
  if (!s) return false;
  if (!in.empty()) std::memcpy(s->data(), in.data(), in.size());
  return true;
}

bool GuestMemory::fill(GuestAddress addr, uint64_t len, uint8_t value) const noexcept {
  auto s = span(addr, len);
  if (!s) return false;
  std::memset(s->data(), value, len);
  return true;
}

}  // namespace vmm
