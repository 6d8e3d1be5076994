#include "devices/pci/pci_root.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "vmm/common/checked.hpp"
#include "vmm/common/error.hpp"

namespace vmm::pci {
namespace {

// 00:00.0: a plain host bridge so guests see a conventional PCI hierarchy.
class HostBridge final : public PciDevice {
 public:
  HostBridge()
      : config_(PciId{.vendor = 0x8086,
                      .device = 0x0d57,
                      .class_code = 0x06,
                      .subclass = 0x00,
                      .prog_if = 0,
                      .revision = 0,
                      .subsystem_vendor = 0,
                      .subsystem = 0}) {}
  PciConfigSpace& config() override { return config_; }
  void bar_read(uint8_t, uint64_t, std::span<uint8_t> data) override {
    std::fill(data.begin(), data.end(), 0xff);
  }
  void bar_write(uint8_t, uint64_t, std::span<const uint8_t>) override {}

 private:
  PciConfigSpace config_;
};

// Forwards MMIO accesses inside one BAR to its device.
class BarWindow final : public BusDevice {
 public:
  BarWindow(std::shared_ptr<PciDevice> device, uint8_t bar)
      : device_(std::move(device)), bar_(bar) {}
  void read(uint64_t offset, std::span<uint8_t> data) override {
    device_->bar_read(bar_, offset, data);
  }
  void write(uint64_t offset, std::span<const uint8_t> data) override {
    device_->bar_write(bar_, offset, data);
  }

 private:
  std::shared_ptr<PciDevice> device_;
  uint8_t bar_;
};

class Ecam final : public BusDevice {
 public:
  explicit Ecam(PciRoot& root) : root_(root) {}
  void read(uint64_t offset, std::span<uint8_t> data) override { root_.read_ecam(offset, data); }
  void write(uint64_t offset, std::span<const uint8_t> data) override {
    root_.write_ecam(offset, data);
  }

 private:
  PciRoot& root_;
};

class Port final : public BusDevice {
 public:
  Port(PciRoot& root, bool address) : root_(root), address_(address) {}
  void read(uint64_t offset, std::span<uint8_t> data) override {
    address_ ? root_.read_address(offset, data) : root_.read_data(offset, data);
  }
  void write(uint64_t offset, std::span<const uint8_t> data) override {
    address_ ? root_.write_address(offset, data) : root_.write_data(offset, data);
  }

 private:
  PciRoot& root_;
  bool address_;
};

uint32_t load_le(std::span<const uint8_t> data) {
  uint32_t v = 0;
  std::memcpy(&v, data.data(), std::min<size_t>(data.size(), 4));
  return v;
}

}  // namespace

PciRoot::PciRoot(Bus& mmio, uint64_t mmio_start, uint64_t mmio_end, VmStopper& stopper)
    : mmio_(mmio),
      next_bar_(mmio_start),
      mmio_end_(mmio_end),
      stopper_(stopper),
      address_port_(std::make_shared<Port>(*this, true)),
      data_port_(std::make_shared<Port>(*this, false)),
      ecam_(std::make_shared<Ecam>(*this)) {
  add_device(std::make_shared<HostBridge>());
}

PciRoot::~PciRoot() {
  for (auto& slot : slots_) {
    for (uint64_t addr : slot.mapped) {
      if (addr != 0) mmio_.remove(addr);
    }
  }
}

uint8_t PciRoot::add_device(std::shared_ptr<PciDevice> device) {
  std::lock_guard lock(mutex_);
  if (next_slot_ >= kMaxSlots) throw ConfigError("too many PCI devices (at most 31)");
  Slot& slot = slots_[next_slot_];
  auto& config = device->config();
  for (uint8_t bar = 0; bar < kBarCount; ++bar) {
    auto size = config.bar_size(bar);
    if (!size) continue;
    const uint64_t addr = align_up(next_bar_, *size);
    if (addr + *size > mmio_end_) throw ConfigError("PCI MMIO window exhausted");
    config.set_bar_address(bar, static_cast<uint32_t>(addr));
    next_bar_ = addr + *size;
  }
  // Firmware would have enabled decoding; there is no firmware, so the VMM does.
  config.store16(kCommand, config.command() | kCommandMemorySpace);
  slot.device = std::move(device);
  update_mappings(slot);
  return next_slot_++;
}

void PciRoot::update_mappings(Slot& slot) {
  auto& config = slot.device->config();
  const bool decode = (config.command() & kCommandMemorySpace) != 0;
  for (uint8_t bar = 0; bar < kBarCount; ++bar) {
    auto size = config.bar_size(bar);
    if (!size) continue;
    const uint64_t want = decode ? config.bar_address(bar) : 0;
    if (want == slot.mapped[bar]) continue;
    if (slot.mapped[bar] != 0) mmio_.remove(slot.mapped[bar]);
    slot.mapped[bar] = 0;
    // The guest sizes BARs by writing all-ones; such an address (or 0) is not a mapping.
    if (want != 0 && want + *size <= 0x100000000ULL && want != (~(*size - 1) & 0xffffffffU)) {
      try {
        mmio_.insert(std::make_shared<BarWindow>(slot.device, bar), want, *size);
        slot.mapped[bar] = want;
      } catch (const Error& e) {
        spdlog::warn("pci: guest placed a BAR where it cannot be mapped: {}", e.what());
      }
    }
    slot.device->bar_mapped(bar, slot.mapped[bar]);
  }
}

void PciRoot::write_address(uint64_t offset, std::span<const uint8_t> data) {
  if (offset == 0 && data.size() == 4) {
    std::lock_guard lock(mutex_);
    config_address_ = load_le(data);
    return;
  }
  // 0xcf9: reset control. Bit 2 starts a reset (bit 1 picks hard or soft; both end the VM).
  if (offset == 1 && data.size() == 1 && (data[0] & 0x4) != 0) {
    stopper_.request_stop({.reason = StopReason::kGuestReset});
  }
}

void PciRoot::read_address(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  if (offset == 0 && data.size() == 4) {
    std::memcpy(data.data(), &config_address_, 4);
  } else {
    std::fill(data.begin(), data.end(), 0);
  }
}

PciRoot::Slot* PciRoot::slot_at(uint64_t bus, uint64_t dev, uint64_t fn) {
  if (bus != 0 || fn != 0 || dev >= kMaxSlots || !slots_[dev].device) return nullptr;
  return &slots_[dev];
}

PciDevice* PciRoot::target(uint64_t data_offset, uint16_t& reg, Slot*& slot) {
  if ((config_address_ & 0x80000000U) == 0) return nullptr;
  slot = slot_at((config_address_ >> 16) & 0xff, (config_address_ >> 11) & 0x1f,
                 (config_address_ >> 8) & 0x7);
  if (slot == nullptr) return nullptr;
  reg = static_cast<uint16_t>((config_address_ & 0xfc) + data_offset);
  return slot->device.get();
}

void PciRoot::config_read(Slot* slot, uint64_t reg, std::span<uint8_t> data) {
  if (slot == nullptr || !range_within(reg, data.size(), 0, kConfigSize)) {
    std::fill(data.begin(), data.end(), 0xff);
    return;
  }
  slot->device->config_read(static_cast<uint16_t>(reg), data);
}

void PciRoot::config_write(Slot* slot, uint64_t reg, std::span<const uint8_t> data) {
  if (slot == nullptr || !range_within(reg, data.size(), 0, kConfigSize)) return;
  slot->device->config_write(static_cast<uint16_t>(reg), data);
  // BARs or the command register changed: remap.
  if ((reg < kBar0 + 4 * kBarCount && reg + data.size() > kBar0) ||
      (reg <= kCommand && reg + data.size() > kCommand)) {
    update_mappings(*slot);
  }
}

void PciRoot::read_data(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  uint16_t reg = 0;
  Slot* slot = nullptr;
  if (target(offset, reg, slot) == nullptr) slot = nullptr;
  config_read(slot, reg, data);
}

void PciRoot::write_data(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mutex_);
  uint16_t reg = 0;
  Slot* slot = nullptr;
  if (target(offset, reg, slot) == nullptr) slot = nullptr;
  config_write(slot, reg, data);
}

// ECAM offset: bus in bits 20 and up, device in 19..15, function in 14..12, register in 11..0.
// An access that would run into the next function's space finds no register there.
void PciRoot::read_ecam(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  config_read(slot_at(offset / kEcamBusSize, (offset >> 15) & 0x1f, (offset >> 12) & 0x7),
              offset & (kEcamFunctionSize - 1), data);
}

void PciRoot::write_ecam(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mutex_);
  config_write(slot_at(offset / kEcamBusSize, (offset >> 15) & 0x1f, (offset >> 12) & 0x7),
               offset & (kEcamFunctionSize - 1), data);
}

}  // namespace vmm::pci
