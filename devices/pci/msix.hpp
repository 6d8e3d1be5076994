#pragma once
// MSI-X: the capability in configuration space, the vector table and the pending-bit array
// in a BAR. Vectors are delivered through an MsiRouter; a masked vector sets its pending bit
// and fires when unmasked, as the PCI specification requires.
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

#include "devices/pci/pci_config_space.hpp"
#include "vmm/devices/msi_router.hpp"

namespace vmm::pci {

class Msix final {
 public:
  static constexpr uint32_t kEntrySize = 16;

  // `vectors` table entries. The table and the PBA live in BAR `bar` at the given offsets.
  Msix(MsiRouter& router, uint16_t vectors, uint8_t bar, uint32_t table_offset,
       uint32_t pba_offset);

  // Adds the capability to `config`; remember the offset for config_written().
  void add_capability(PciConfigSpace& config);
  // Call after every guest write to configuration space.
  void config_written(const PciConfigSpace& config);

  [[nodiscard]] uint32_t table_size() const { return vectors_ * kEntrySize; }
  [[nodiscard]] uint32_t pba_size() const { return ((vectors_ + 63U) / 64U) * 8U; }
  [[nodiscard]] uint32_t table_offset() const { return table_offset_; }
  [[nodiscard]] uint32_t pba_offset() const { return pba_offset_; }
  [[nodiscard]] uint16_t vectors() const { return vectors_; }

  // Accesses inside the table / PBA (offset relative to their start). Bounds-checked.
  void table_read(uint64_t offset, std::span<uint8_t> data);
  void table_write(uint64_t offset, std::span<const uint8_t> data);
  void pba_read(uint64_t offset, std::span<uint8_t> data);

  [[nodiscard]] bool enabled() const;
  // Delivers `vector`. False when MSI-X is disabled (the caller falls back to INTx); a vector
  // out of range (0xffff is virtio's "no vector") is dropped.
  bool notify(uint16_t vector);
  // The router's eventfd for `vector` while MSI-X is enabled, else -1. Writes to it reach the
  // guest even while the vector is masked (no pending bit), which drivers tolerate.
  [[nodiscard]] int vector_eventfd(uint16_t vector);
  // Device reset: every vector masked, nothing pending, MSI-X off.
  void reset();

 private:
  struct Entry {
    uint32_t address_lo = 0;
    uint32_t address_hi = 0;
    uint32_t data = 0;
    uint32_t control = 1;  // masked
    uint32_t route = 0;
    bool pending = false;
  };
  [[nodiscard]] bool masked(const Entry& e) const { return function_mask_ || (e.control & 1) != 0; }
  void sync_route(Entry& e);  // caller holds mutex_
  void fire_pending();        // caller holds mutex_

  MsiRouter& router_;
  uint16_t vectors_;
  uint8_t bar_;
  uint32_t table_offset_;
  uint32_t pba_offset_;
  uint8_t cap_offset_ = 0;
  mutable std::mutex mutex_;
  bool enabled_ = false;
  bool function_mask_ = false;
  std::vector<Entry> entries_;
};

}  // namespace vmm::pci
