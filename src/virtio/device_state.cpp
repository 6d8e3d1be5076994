#include "vmm/virtio/device_state.hpp"

#include <spdlog/spdlog.h>

#include "vmm/virtio/virtio_spec.hpp"

namespace vmm::virtio {

VirtioDeviceState::VirtioDeviceState(uint64_t device_features,
                                     std::span<const uint16_t> queue_max_sizes)
    : device_features_(device_features) {
  queues_.reserve(queue_max_sizes.size());
  for (uint16_t max : queue_max_sizes) queues_.emplace_back(max);
}

VirtioDeviceState::StatusAction VirtioDeviceState::write_status(uint8_t value) {
  if (value == 0) return StatusAction::kReset;

  const uint8_t old = status();
  // DEVICE_NEEDS_RESET belongs to the device; a driver writing it back changes nothing.
  const uint8_t driver_bits = static_cast<uint8_t>(value & ~kStatusDeviceNeedsReset);
  const uint8_t old_driver_bits = static_cast<uint8_t>(old & ~kStatusDeviceNeedsReset);
  if ((driver_bits & old_driver_bits) != old_driver_bits) {
    SPDLOG_WARN("virtio: driver tried to clear status bits ({:#x} -> {:#x}); ignored", old, value);
    return StatusAction::kNone;
  }
  uint8_t added = static_cast<uint8_t>(driver_bits & ~old_driver_bits);
  uint8_t next = old;

  auto has = [&](uint8_t bit) { return (next & bit) != 0; };
  if ((added & kStatusFailed) != 0) next |= kStatusFailed;
  if ((added & kStatusAcknowledge) != 0) next |= kStatusAcknowledge;
  if ((added & kStatusDriver) != 0) {
    if (has(kStatusAcknowledge)) {
      next |= kStatusDriver;
    } else {
      SPDLOG_WARN("virtio: DRIVER set before ACKNOWLEDGE; ignored");
    }
  }
  if ((added & kStatusFeaturesOk) != 0) {
    const bool subset = (driver_features_ & ~device_features_) == 0;
    const bool modern = (driver_features_ & feature_bit(kFeatureVersion1)) != 0;
    if (!has(kStatusDriver)) {
      SPDLOG_WARN("virtio: FEATURES_OK set before DRIVER; refused");
    } else if (!subset) {
      SPDLOG_WARN(
          "virtio: driver accepted features {:#x} that were not offered ({:#x}); "
          "FEATURES_OK refused",
          driver_features_, device_features_);
    } else if (!modern) {
      SPDLOG_WARN("virtio: driver did not accept VIRTIO_F_VERSION_1; FEATURES_OK refused");
    } else {
      next |= kStatusFeaturesOk;
    }
  }
  bool activate = false;
  if ((added & kStatusDriverOk) != 0) {
    if (has(kStatusFeaturesOk) && (next & kStatusFailed) == 0) {
      next |= kStatusDriverOk;
      activate = true;
    } else {
      SPDLOG_WARN("virtio: DRIVER_OK without FEATURES_OK; ignored");
    }
  }
  // A concurrent set_needs_reset() must not be lost: merge rather than overwrite.
  status_.fetch_or(next, std::memory_order_acq_rel);
  return activate ? StatusAction::kActivate : StatusAction::kNone;
}

bool VirtioDeviceState::driver_ok() const noexcept { return (status() & kStatusDriverOk) != 0; }

void VirtioDeviceState::set_needs_reset() noexcept {
  status_.fetch_or(kStatusDeviceNeedsReset, std::memory_order_acq_rel);
}

uint32_t VirtioDeviceState::device_features_word(uint32_t select) const noexcept {
  if (select > 1) return 0;
  return static_cast<uint32_t>(device_features_ >> (32 * select));
}

void VirtioDeviceState::write_driver_features_word(uint32_t select, uint32_t value) noexcept {
  const uint8_t s = status();
  if ((s & kStatusDriver) == 0 || (s & kStatusFeaturesOk) != 0) {
    SPDLOG_WARN("virtio: driver features written outside feature negotiation; ignored");
    return;
  }
  if (select > 1) return;  // no feature bits above 63 exist
  const unsigned shift = 32 * select;
  driver_features_ =
      (driver_features_ & ~(uint64_t{0xffffffff} << shift)) | (uint64_t{value} << shift);
}

Queue* VirtioDeviceState::selected_queue() noexcept {
  return queue_select_ < queues_.size() ? &queues_[queue_select_] : nullptr;
}

bool VirtioDeviceState::queue_config_writable() const noexcept {
  if (driver_ok()) return false;
  return queue_select_ < queues_.size() && !queues_[queue_select_].ready();
}

bool VirtioDeviceState::enable_selected_queue(const GuestMemory& memory) noexcept {
  Queue* q = selected_queue();
  if (q == nullptr) return false;
  if (q->ready()) return true;
  if (!q->enable(memory, driver_features_)) {
    SPDLOG_WARN(
        "virtio: queue {} refused: size {} or rings (desc {:#x}, avail {:#x}, used {:#x}) "
        "invalid",
        queue_select_, q->size(), q->desc_table().raw, q->avail_ring().raw, q->used_ring().raw);
    set_needs_reset();
    return false;
  }
  return true;
}

void VirtioDeviceState::reset() noexcept {
  status_.store(0, std::memory_order_release);
  driver_features_ = 0;
  queue_select_ = 0;
  for (auto& q : queues_) q.reset();
}

}  // namespace vmm::virtio
