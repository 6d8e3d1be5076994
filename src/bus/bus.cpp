#include "vmm/bus/bus.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "vmm/common/checked.hpp"
#include "vmm/common/error.hpp"

namespace vmm {

void Bus::insert(std::shared_ptr<BusDevice> device, uint64_t base, uint64_t len) {
  if (!device) throw Error(name_ + ": null device");
  if (len == 0 || !checked_add(base, len)) {
    throw Error(fmt::format("{}: invalid range {:#x}+{:#x}", name_, base, len));
  }
  std::unique_lock lock(mutex_);
  auto it = std::lower_bound(ranges_.begin(), ranges_.end(), base,
                             [](const Range& r, uint64_t b) { return r.base < b; });
  // Overlap with the successor: it starts before our end.
  if (it != ranges_.end() && it->base < base + len) {
    throw Error(fmt::format("{}: range {:#x}+{:#x} overlaps {:#x}+{:#x}", name_, base, len,
                            it->base, it->len));
  }
  // Overlap with the predecessor: it ends after our start.
  if (it != ranges_.begin()) {
    const auto& prev = *std::prev(it);
    if (prev.base + prev.len > base) {
      throw Error(fmt::format("{}: range {:#x}+{:#x} overlaps {:#x}+{:#x}", name_, base, len,
                              prev.base, prev.len));
    }
  }
  ranges_.insert(it, Range{base, len, std::move(device)});
}

bool Bus::remove(uint64_t base) {
  std::unique_lock lock(mutex_);
  auto it = std::find_if(ranges_.begin(), ranges_.end(),
                         [base](const Range& r) { return r.base == base; });
  if (it == ranges_.end()) return false;
  ranges_.erase(it);
  return true;
}

const Bus::Range* Bus::find(uint64_t addr, uint64_t size) const noexcept {
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), addr,
                             [](uint64_t a, const Range& r) { return a < r.base; });
  if (it == ranges_.begin()) return nullptr;
  const Range& r = *std::prev(it);
  return range_within(addr, size, r.base, r.len) ? &r : nullptr;
}

bool Bus::read(uint64_t addr, std::span<uint8_t> data) const {
  std::shared_ptr<BusDevice> dev;
  uint64_t offset = 0;
  {
    std::shared_lock lock(mutex_);
    if (const Range* r = find(addr, data.size())) {
      dev = r->device;
      offset = addr - r->base;
    }
  }
  if (!dev) {
    std::memset(data.data(), 0xff, data.size());
    SPDLOG_DEBUG("{}: unclaimed read {:#x} size {}", name_, addr, data.size());
    return false;
  }
  dev->read(offset, data);
  return true;
}

bool Bus::write(uint64_t addr, std::span<const uint8_t> data) const {
  std::shared_ptr<BusDevice> dev;
  uint64_t offset = 0;
  {
    std::shared_lock lock(mutex_);
    if (const Range* r = find(addr, data.size())) {
      dev = r->device;
      offset = addr - r->base;
    }
  }
  if (!dev) {
    SPDLOG_DEBUG("{}: unclaimed write {:#x} size {}", name_, addr, data.size());
    return false;
  }
  dev->write(offset, data);
  return true;
}

}  // namespace vmm
