#include "devices/pci/msix.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include "vmm/common/checked.hpp"

namespace vmm::pci {
namespace {
constexpr uint8_t kMsixCapabilityId = 0x11;
constexpr uint16_t kControlEnable = 1U << 15;
constexpr uint16_t kControlFunctionMask = 1U << 14;
}  // namespace

Msix::Msix(MsiRouter& router, uint16_t vectors, uint8_t bar, uint32_t table_offset,
           uint32_t pba_offset)
    : router_(router),
      vectors_(vectors),
      bar_(bar),
      table_offset_(table_offset),
      pba_offset_(pba_offset),
      entries_(vectors) {
  for (auto& e : entries_) e.route = router_.allocate_route();
}

void Msix::add_capability(PciConfigSpace& config) {
  std::array<uint8_t, 12> cap{};
  cap[0] = kMsixCapabilityId;
  const uint16_t control = static_cast<uint16_t>(vectors_ - 1);
  std::memcpy(&cap[2], &control, 2);
  const uint32_t table = table_offset_ | bar_;
  const uint32_t pba = pba_offset_ | bar_;
  std::memcpy(&cap[4], &table, 4);
  std::memcpy(&cap[8], &pba, 4);
  std::array<uint8_t, 12> writable{};
  writable[3] = static_cast<uint8_t>((kControlEnable | kControlFunctionMask) >> 8);
  cap_offset_ = config.add_capability(cap, writable);
}

void Msix::config_written(const PciConfigSpace& config) {
  const uint16_t control = config.load16(static_cast<uint16_t>(cap_offset_ + 2));
  std::lock_guard lock(mutex_);
  const bool was_enabled = enabled_;
  enabled_ = (control & kControlEnable) != 0;
  function_mask_ = (control & kControlFunctionMask) != 0;
  if (enabled_ != was_enabled) {
    for (auto& e : entries_) sync_route(e);
  }
  fire_pending();
}

bool Msix::enabled() const {
  std::lock_guard lock(mutex_);
  return enabled_;
}

void Msix::sync_route(Entry& e) {
  const uint64_t address = (static_cast<uint64_t>(e.address_hi) << 32) | e.address_lo;
  router_.update_route(e.route, address, e.data, enabled_);
}

void Msix::fire_pending() {
  if (!enabled_ || function_mask_) return;
  for (auto& e : entries_) {
    if (e.pending && !masked(e)) {
      e.pending = false;
      router_.trigger(e.route);
    }
  }
}

void Msix::table_read(uint64_t offset, std::span<uint8_t> data) {
  std::fill(data.begin(), data.end(), 0xff);
  if ((data.size() != 4 && data.size() != 8) || offset % data.size() != 0 ||
      !range_within(offset, data.size(), 0, table_size())) {
    return;
  }
  std::lock_guard lock(mutex_);
  for (size_t done = 0; done < data.size(); done += 4) {
    const uint64_t at = offset + done;
    const Entry& e = entries_[at / kEntrySize];
    uint32_t v = 0;
    switch (at % kEntrySize) {
      case 0:
        v = e.address_lo;
        break;
      case 4:
        v = e.address_hi;
        break;
      case 8:
        v = e.data;
        break;
      default:
        v = e.control;
        break;
    }
    std::memcpy(data.data() + done, &v, 4);
  }
}

void Msix::table_write(uint64_t offset, std::span<const uint8_t> data) {
  if ((data.size() != 4 && data.size() != 8) || offset % data.size() != 0 ||
      !range_within(offset, data.size(), 0, table_size())) {
    return;
  }
  std::lock_guard lock(mutex_);
  for (size_t done = 0; done < data.size(); done += 4) {
    const uint64_t at = offset + done;
    Entry& e = entries_[at / kEntrySize];
    uint32_t v = 0;
    std::memcpy(&v, data.data() + done, 4);
    switch (at % kEntrySize) {
      case 0:
        e.address_lo = v & ~3U;
        break;
      case 4:
        e.address_hi = v;
        break;
      case 8:
        e.data = v;
        break;
      default:
        e.control = v & 1U;
        break;
    }
    if (enabled_) sync_route(e);
  }
  fire_pending();
}

void Msix::pba_read(uint64_t offset, std::span<uint8_t> data) {
  std::fill(data.begin(), data.end(), 0);
  if (!range_within(offset, data.size(), 0, pba_size())) return;
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < data.size(); ++i) {
    for (unsigned bit = 0; bit < 8; ++bit) {
      const uint64_t vector = (offset + i) * 8 + bit;
      if (vector < entries_.size() && entries_[vector].pending) {
        data[i] = static_cast<uint8_t>(data[i] | (1U << bit));
      }
    }
  }
}

bool Msix::notify(uint16_t vector) {
  std::lock_guard lock(mutex_);
  if (!enabled_) return false;
  if (vector >= entries_.size()) return true;
  Entry& e = entries_[vector];
  if (masked(e)) {
    e.pending = true;
  } else {
    router_.trigger(e.route);
  }
  return true;
}

int Msix::vector_eventfd(uint16_t vector) {
  std::lock_guard lock(mutex_);
  if (!enabled_ || vector >= entries_.size()) return -1;
  return router_.route_eventfd(entries_[vector].route);
}

void Msix::reset() {
  std::lock_guard lock(mutex_);
  enabled_ = false;
  function_mask_ = false;
  for (auto& e : entries_) {
    e = Entry{.route = e.route};
    sync_route(e);
  }
}

}  // namespace vmm::pci
