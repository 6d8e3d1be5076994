#pragma once
// The PCI root complex of bus 0: a host bridge at 00:00.0, configuration mechanism #1
// (address port 0xcf8, data ports 0xcfc-0xcff) or an ECAM window (the memory-mapped
// configuration of PCI Express, for platforms without ports), BAR placement inside the 32-bit
// MMIO hole, and the reset control register at 0xcf9.
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>

#include "devices/pci/pci_device.hpp"
#include "vmm/bus/bus.hpp"
#include "vmm/devices/vm_stopper.hpp"

namespace vmm::pci {

inline constexpr uint16_t kConfigAddressPort = 0xcf8;
inline constexpr uint16_t kConfigDataPort = 0xcfc;
inline constexpr uint8_t kMaxSlots = 32;
// ECAM: 4 KiB of configuration space per function, 8 functions per device, 32 devices per bus.
inline constexpr uint64_t kEcamFunctionSize = 4096;
inline constexpr uint64_t kEcamBusSize = kEcamFunctionSize * 8 * kMaxSlots;

class PciRoot final {
 public:
  // BARs are placed in [mmio_start, mmio_end) and mapped on `mmio`.
  PciRoot(Bus& mmio, uint64_t mmio_start, uint64_t mmio_end, VmStopper& stopper);
  PciRoot(const PciRoot&) = delete;
  PciRoot& operator=(const PciRoot&) = delete;
  ~PciRoot();

  // Puts the device in the next free slot, assigns and maps its BARs; returns the slot.
  uint8_t add_device(std::shared_ptr<PciDevice> device);

  // Register these on the port-I/O bus: the address port (0xcf8, 4 bytes; its byte 1 is the
  // reset control register 0xcf9) and the data port (0xcfc, 4 bytes).
  [[nodiscard]] std::shared_ptr<BusDevice> address_port() const { return address_port_; }
  [[nodiscard]] std::shared_ptr<BusDevice> data_port() const { return data_port_; }
  // Or register this on the MMIO bus: an ECAM window of any number of buses from bus 0 (1 MiB
  // each). Only bus 0 has devices; the rest, and functions other than 0, read as all-ones.
  [[nodiscard]] std::shared_ptr<BusDevice> ecam() const { return ecam_; }

  // Internal, used by the ports.
  void write_address(uint64_t offset, std::span<const uint8_t> data);
  void read_address(uint64_t offset, std::span<uint8_t> data);
  void read_data(uint64_t offset, std::span<uint8_t> data);
  void write_data(uint64_t offset, std::span<const uint8_t> data);
  void read_ecam(uint64_t offset, std::span<uint8_t> data);
  void write_ecam(uint64_t offset, std::span<const uint8_t> data);

 private:
  struct Slot {
    std::shared_ptr<PciDevice> device;
    std::array<uint64_t, kBarCount> mapped{};  // address each BAR is mapped at, 0 if none
  };
  // The device and register addressed by the current config address, if any.
  PciDevice* target(uint64_t data_offset, uint16_t& reg, Slot*& slot);
  // The device at bus/device/function, if any.
  Slot* slot_at(uint64_t bus, uint64_t dev, uint64_t fn);
  // A configuration access to register `reg` of `slot`. No slot, or a register outside the
  // configuration space, reads as all-ones and ignores writes.
  static void config_read(Slot* slot, uint64_t reg, std::span<uint8_t> data);
  void config_write(Slot* slot, uint64_t reg, std::span<const uint8_t> data);
  // Brings the MMIO bus in line with the BARs and the command register of `slot`.
  void update_mappings(Slot& slot);

  Bus& mmio_;
  uint64_t next_bar_;
  uint64_t mmio_end_;
  VmStopper& stopper_;
  std::mutex mutex_;
  uint32_t config_address_ = 0;
  std::array<Slot, kMaxSlots> slots_{};
  uint8_t next_slot_ = 0;
  std::shared_ptr<BusDevice> address_port_;
  std::shared_ptr<BusDevice> data_port_;
  std::shared_ptr<BusDevice> ecam_;
};

}  // namespace vmm::pci
