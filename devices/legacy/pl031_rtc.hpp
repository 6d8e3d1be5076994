#pragma once
// The ARM PrimeCell PL031 real-time clock, the clock of arm64 machines (a 4 KiB MMIO window,
// "arm,pl031" in the device tree): a 32-bit seconds counter the guest reads from RTCDR, so
// `date` in the guest shows the host's date.
//
// The counter is the host's wall clock plus an offset the guest sets by writing RTCLR (the
// host owns the clock; the guest only moves its own view of it). RTCCR reads 1: the counter
// always runs. Match interrupts are not generated (no alarm): RTCRIS and RTCMIS read 0, and
// RTCMR keeps what the guest writes. Only aligned 32-bit accesses reach a register; any other
// access reads 0 and writes nothing.
#include <cstdint>
#include <ctime>
#include <functional>
#include <mutex>
#include <span>

#include "vmm/bus/bus_device.hpp"

namespace vmm::devices {

class Pl031Rtc final : public BusDevice {
 public:
  using Clock = std::function<std::time_t()>;

  static constexpr uint64_t kWindowSize = 0x1000;

  // Register offsets.
  static constexpr uint64_t kData = 0x000;          // RTCDR, read-only
  static constexpr uint64_t kMatch = 0x004;         // RTCMR
  static constexpr uint64_t kLoad = 0x008;          // RTCLR
  static constexpr uint64_t kControl = 0x00c;       // RTCCR
  static constexpr uint64_t kIrqMask = 0x010;       // RTCIMSC
  static constexpr uint64_t kRawStatus = 0x014;     // RTCRIS
  static constexpr uint64_t kMaskedStatus = 0x018;  // RTCMIS
  static constexpr uint64_t kIrqClear = 0x01c;      // RTCICR, write-only
  static constexpr uint64_t kPeriphId0 = 0xfe0;     // PeriphID0..3, then PCellID0..3 at 0xff0

  // The AMBA identification Linux's amba bus matches the driver by (0x00041031) and the
  // PrimeCell cell id (0xb105f00d), one byte per register.
  static constexpr uint8_t kIds[8] = {0x31, 0x10, 0x04, 0x00, 0x0d, 0xf0, 0x05, 0xb1};

  explicit Pl031Rtc(Clock clock);

  void read(uint64_t offset, std::span<uint8_t> data) override;
  void write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  uint32_t read_register(uint64_t offset);
  void write_register(uint64_t offset, uint32_t value);
  // The counter now: the host's seconds plus the guest's offset, modulo 2^32.
  uint32_t counter();

  Clock clock_;
  std::mutex mutex_;
  int64_t offset_ = 0;  // what RTCLR writes moved the counter by
  uint32_t match_ = 0;
  uint32_t irq_mask_ = 0;
};

}  // namespace vmm::devices
