#include "devices/pci/pci_config_space.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#include "vmm/common/checked.hpp"
#include "vmm/common/error.hpp"

namespace vmm::pci {

PciConfigSpace::PciConfigSpace(const PciId& id, uint8_t header_type) {
  store16(kVendorId, id.vendor);
  store16(kDeviceId, id.device);
  bytes_[kRevision] = id.revision;
  bytes_[kClassCode] = id.prog_if;
  bytes_[kClassCode + 1] = id.subclass;
  bytes_[kClassCode + 2] = id.class_code;
  bytes_[kHeaderType] = header_type;
  store16(kSubsystemVendorId, id.subsystem_vendor);
  store16(kSubsystemId, id.subsystem);
  // The guest may toggle I/O, memory, bus-master and INTx-disable decoding.
  const uint16_t command_mask =
      kCommandIoSpace | kCommandMemorySpace | kCommandBusMaster | kCommandIntxDisable;
  writable_[kCommand] = static_cast<uint8_t>(command_mask);
  writable_[kCommand + 1] = static_cast<uint8_t>(command_mask >> 8);
  writable_[kInterruptLine] = 0xff;  // scratch for the guest's IRQ routing
}

void PciConfigSpace::add_memory_bar(uint8_t index, uint32_t size) {
  if (index >= kBarCount || size < 4096 || !std::has_single_bit(size)) {
    throw Error("invalid PCI BAR definition");
  }
  bar_sizes_[index] = size;
  const uint16_t off = static_cast<uint16_t>(kBar0 + 4 * index);
  // Address bits below the size are read-only zero: that is how the guest learns the size.
  const uint32_t mask = ~(size - 1);
  for (unsigned i = 0; i < 4; ++i) writable_[off + i] = static_cast<uint8_t>(mask >> (8 * i));
}

std::optional<uint32_t> PciConfigSpace::bar_size(uint8_t index) const {
  if (index >= kBarCount || bar_sizes_[index] == 0) return std::nullopt;
  return bar_sizes_[index];
}

uint32_t PciConfigSpace::bar_address(uint8_t index) const {
  return load32(static_cast<uint16_t>(kBar0 + 4 * index)) & ~0xfU;
}

void PciConfigSpace::set_bar_address(uint8_t index, uint32_t address) {
  store32(static_cast<uint16_t>(kBar0 + 4 * index), address & ~0xfU);
}

uint8_t PciConfigSpace::add_capability(std::span<const uint8_t> bytes,
                                       std::span<const uint8_t> writable) {
  const size_t len = align_up(std::max<size_t>(bytes.size(), 2), 4);
  if (next_capability_offset_ + len > kConfigSize) throw Error("PCI capability list is full");
  const uint8_t off = next_capability_offset_;
  std::memcpy(&bytes_[off], bytes.data(), bytes.size());
  bytes_[off + 1] = 0;
  if (!writable.empty()) {
    std::memcpy(&writable_[off], writable.data(), std::min(writable.size(), bytes.size()));
  }
  if (last_capability_ == 0) {
    bytes_[kCapabilitiesPointer] = off;
    store16(kStatus, load16(kStatus) | kStatusCapabilities);
  } else {
    bytes_[last_capability_ + 1] = off;
  }
  last_capability_ = off;
  next_capability_offset_ = static_cast<uint8_t>(off + len);
  return off;
}

void PciConfigSpace::set_interrupt_pin(uint8_t pin) { bytes_[kInterruptPin] = pin; }

void PciConfigSpace::read(uint16_t offset, std::span<uint8_t> data) const {
  if (!range_within(offset, data.size(), 0, kConfigSize)) {
    std::fill(data.begin(), data.end(), 0xff);
    return;
  }
  std::memcpy(data.data(), &bytes_[offset], data.size());
}

void PciConfigSpace::write(uint16_t offset, std::span<const uint8_t> data) {
  if (!range_within(offset, data.size(), 0, kConfigSize)) return;
  for (size_t i = 0; i < data.size(); ++i) {
    const size_t at = offset + i;
    bytes_[at] = static_cast<uint8_t>((bytes_[at] & ~writable_[at]) | (data[i] & writable_[at]));
  }
}

uint16_t PciConfigSpace::load16(uint16_t offset) const {
  uint16_t v = 0;
  std::memcpy(&v, &bytes_.at(offset + 1U) - 1, sizeof(v));
  return v;
}

uint32_t PciConfigSpace::load32(uint16_t offset) const {
  uint32_t v = 0;
  std::memcpy(&v, &bytes_.at(offset + 3U) - 3, sizeof(v));
  return v;
}

void PciConfigSpace::store16(uint16_t offset, uint16_t value) {
  std::memcpy(&bytes_.at(offset + 1U) - 1, &value, sizeof(value));
}

void PciConfigSpace::store32(uint16_t offset, uint32_t value) {
  std::memcpy(&bytes_.at(offset + 3U) - 3, &value, sizeof(value));
}

}  // namespace vmm::pci
