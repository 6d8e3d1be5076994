#pragma once
// The MC146818-compatible CMOS real-time clock: port 0x70 selects a register (bit 7, the NMI
// mask, is ignored), port 0x71 reads or writes it. Register it as one 2-port range at 0x70.
//
// The time is the host's wall clock in UTC, read on every access, so `date` in the guest shows
// the host's date. Guest writes to the time registers are ignored (the host owns the clock);
// writes to register B's data-mode (binary/BCD) and 24-hour bits are honoured. Periodic, alarm
// and update-ended interrupts are not generated, so register C always reads 0. Bytes 0x0e..0x7f
// other than the century (0x32) are 114 bytes of plain battery-backed RAM.
#include <array>
#include <cstdint>
#include <ctime>
#include <functional>
#include <mutex>
#include <span>

#include "vmm/bus/bus_device.hpp"

namespace vmm::devices {

class Rtc final : public BusDevice {
 public:
  using Clock = std::function<std::time_t()>;

  static constexpr uint64_t kPortCount = 2;
  static constexpr size_t kRegisterCount = 128;

  // Register indices.
  static constexpr uint8_t kSeconds = 0x00;
  static constexpr uint8_t kMinutes = 0x02;
  static constexpr uint8_t kHours = 0x04;
  static constexpr uint8_t kDayOfWeek = 0x06;
  static constexpr uint8_t kDayOfMonth = 0x07;
  static constexpr uint8_t kMonth = 0x08;
  static constexpr uint8_t kYear = 0x09;
  static constexpr uint8_t kRegA = 0x0a;
  static constexpr uint8_t kRegB = 0x0b;
  static constexpr uint8_t kRegC = 0x0c;
  static constexpr uint8_t kRegD = 0x0d;
  static constexpr uint8_t kCentury = 0x32;

  static constexpr uint8_t kRegAUpdateInProgress = 0x80;
  static constexpr uint8_t kRegADefault = 0x26;  // 32.768 kHz time base, 1024 Hz rate
  static constexpr uint8_t kRegB24Hour = 0x02;
  static constexpr uint8_t kRegBBinary = 0x04;  // DM: binary instead of BCD
  static constexpr uint8_t kRegDValidRam = 0x80;
  static constexpr uint8_t kHourPm = 0x80;  // 12-hour mode

  // The host's CLOCK_REALTIME.
  [[nodiscard]] static std::time_t host_clock();

  explicit Rtc(Clock clock = host_clock);

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  uint8_t read_port(uint64_t port);
  void write_port(uint64_t port, uint8_t value);
  uint8_t read_register(uint8_t index);
  void write_register(uint8_t index, uint8_t value);
  [[nodiscard]] uint8_t encode(int value) const noexcept;  // binary or BCD per register B

  const Clock clock_;
  std::mutex mutex_;
  uint8_t index_ = 0;
  std::array<uint8_t, kRegisterCount> cmos_{};
};

}  // namespace vmm::devices
