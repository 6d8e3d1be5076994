#pragma once
// The per-device state both transports keep: the device status state machine (2.1), feature
// negotiation (2.2, 3.1.1) and the virtqueues' driver-written configuration. Transports only
// translate their register layouts into these calls, so the rules live in one place.
//
// Not thread-safe, except status() and set_needs_reset() which a device may call from its
// own thread; the transport serialises everything else (its register accesses).
#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

#include "vmm/memory/guest_memory.hpp"
#include "vmm/virtio/queue.hpp"

namespace vmm::virtio {

class VirtioDeviceState final {
 public:
  VirtioDeviceState(uint64_t device_features, std::span<const uint16_t> queue_max_sizes);

  // What the transport must do after a status write.
  enum class StatusAction {
    kNone,      // bits recorded (or an invalid transition ignored)
    kReset,     // the driver wrote 0: reset the device, then call reset() here
    kActivate,  // DRIVER_OK was just set: activate the device
  };
  // Applies a driver status write. Bits may only be added in the order the specification
  // gives; FEATURES_OK is refused (left clear) when the accepted features are not a subset of
  // the offered ones or lack VIRTIO_F_VERSION_1; DRIVER_OK requires FEATURES_OK.
  [[nodiscard]] StatusAction write_status(uint8_t value);
  [[nodiscard]] uint8_t status() const noexcept { return status_.load(std::memory_order_acquire); }
  [[nodiscard]] bool driver_ok() const noexcept;
  // Device side: sets DEVICE_NEEDS_RESET (the caller raises the config interrupt).
  void set_needs_reset() noexcept;
  // The device failed to start: the driver sees DEVICE_NEEDS_RESET.
  void activation_failed() noexcept { set_needs_reset(); }

  // Features in 32-bit windows, as both transports expose them.
  [[nodiscard]] uint64_t device_features() const noexcept { return device_features_; }
  [[nodiscard]] uint32_t device_features_word(uint32_t select) const noexcept;
  // Ignored unless the driver is between DRIVER and FEATURES_OK.
  void write_driver_features_word(uint32_t select, uint32_t value) noexcept;
  [[nodiscard]] uint64_t driver_features() const noexcept { return driver_features_; }

  // Incremented by the transport whenever the device changes its configuration space.
  [[nodiscard]] uint32_t config_generation() const noexcept { return config_generation_; }
  void bump_config_generation() noexcept { ++config_generation_; }

  // Queues and the driver's queue selector.
  [[nodiscard]] std::span<Queue> queues() noexcept { return queues_; }
  [[nodiscard]] uint16_t queue_select() const noexcept { return queue_select_; }
  void set_queue_select(uint16_t index) noexcept { queue_select_ = index; }
  // The selected queue, or nullptr when the selector names no queue.
  [[nodiscard]] Queue* selected_queue() noexcept;
  // Queue configuration may only change before DRIVER_OK and while the queue is not enabled.
  [[nodiscard]] bool queue_config_writable() const noexcept;
  // The driver set queue_ready on the selected queue: validates the rings. On failure sets
  // DEVICE_NEEDS_RESET and returns false.
  [[nodiscard]] bool enable_selected_queue(const GuestMemory& memory) noexcept;

  // Power-on state: status 0, no features accepted, queues reset, selectors 0.
  void reset() noexcept;

 private:
  uint64_t device_features_;
  uint64_t driver_features_ = 0;
  std::atomic<uint8_t> status_{0};
  uint32_t config_generation_ = 0;
  uint16_t queue_select_ = 0;
  std::vector<Queue> queues_;
};

}  // namespace vmm::virtio
