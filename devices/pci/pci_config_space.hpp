#pragma once
// The 256-byte PCI configuration space of one function: a header type 0 with BARs and a
// capability list. Writes go through per-bit write masks so a guest can change only what real
// hardware lets it change; BAR sizing (write all-ones, read the size mask) falls out of that.
#include <array>
#include <cstdint>
#include <optional>
#include <span>

namespace vmm::pci {

inline constexpr size_t kConfigSize = 256;
inline constexpr size_t kBarCount = 6;

// Standard header offsets.
inline constexpr uint16_t kVendorId = 0x00;
inline constexpr uint16_t kDeviceId = 0x02;
inline constexpr uint16_t kCommand = 0x04;
inline constexpr uint16_t kStatus = 0x06;
inline constexpr uint16_t kRevision = 0x08;
inline constexpr uint16_t kClassCode = 0x09;  // prog-if, subclass, class
inline constexpr uint16_t kHeaderType = 0x0e;
inline constexpr uint16_t kBar0 = 0x10;
inline constexpr uint16_t kSubsystemVendorId = 0x2c;
inline constexpr uint16_t kSubsystemId = 0x2e;
inline constexpr uint16_t kCapabilitiesPointer = 0x34;
inline constexpr uint16_t kInterruptLine = 0x3c;
inline constexpr uint16_t kInterruptPin = 0x3d;

inline constexpr uint16_t kCommandIoSpace = 1U << 0;
inline constexpr uint16_t kCommandMemorySpace = 1U << 1;
inline constexpr uint16_t kCommandBusMaster = 1U << 2;
inline constexpr uint16_t kCommandIntxDisable = 1U << 10;
inline constexpr uint16_t kStatusCapabilities = 1U << 4;
inline constexpr uint16_t kStatusInterrupt = 1U << 3;

struct PciId {
  uint16_t vendor;
  uint16_t device;
  uint8_t class_code;
  uint8_t subclass;
  uint8_t prog_if;
  uint8_t revision;
  uint16_t subsystem_vendor;
  uint16_t subsystem;
};

class PciConfigSpace final {
 public:
  explicit PciConfigSpace(const PciId& id, uint8_t header_type = 0);

  // A 32-bit memory BAR of `size` bytes (a power of two >= 4 KiB), not prefetchable.
  void add_memory_bar(uint8_t index, uint32_t size);
  [[nodiscard]] std::optional<uint32_t> bar_size(uint8_t index) const;
  // The address the BAR holds now (what the guest or the VMM programmed).
  [[nodiscard]] uint32_t bar_address(uint8_t index) const;
  void set_bar_address(uint8_t index, uint32_t address);

  // Appends a capability (its bytes start with the ID; the next pointer at byte 1 is filled
  // in here). `writable` gives the write mask for the capability's bytes (same length or empty
  // for read-only). Returns the capability's offset.
  uint8_t add_capability(std::span<const uint8_t> bytes, std::span<const uint8_t> writable = {});

  void set_interrupt_pin(uint8_t pin);  // 1 = INTA

  // Guest accesses: `offset` + size must stay inside the 256 bytes (checked; out of range reads
  // as all-ones and writes are dropped). Sizes of 1, 2 and 4 bytes.
  void read(uint16_t offset, std::span<uint8_t> data) const;
  void write(uint16_t offset, std::span<const uint8_t> data);

  [[nodiscard]] uint16_t command() const { return load16(kCommand); }
  [[nodiscard]] uint16_t load16(uint16_t offset) const;
  [[nodiscard]] uint32_t load32(uint16_t offset) const;
  // VMM-side writes bypass the masks (status bits, capability state).
  void store16(uint16_t offset, uint16_t value);
  void store32(uint16_t offset, uint32_t value);

 private:
  std::array<uint8_t, kConfigSize> bytes_{};
  std::array<uint8_t, kConfigSize> writable_{};
  std::array<uint32_t, kBarCount> bar_sizes_{};
  uint8_t last_capability_ = 0;
  uint8_t next_capability_offset_ = 0x40;
};

}  // namespace vmm::pci
