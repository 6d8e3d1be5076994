#include "vmm/virtio/mmio_transport.hpp"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "vmm/common/error.hpp"

namespace vmm::virtio {

namespace {

// Register offsets (4.2.2).
constexpr uint64_t kMagicValue = 0x000;
constexpr uint64_t kVersion = 0x004;
constexpr uint64_t kDeviceId = 0x008;
constexpr uint64_t kVendorId = 0x00c;
constexpr uint64_t kDeviceFeatures = 0x010;
constexpr uint64_t kDeviceFeaturesSel = 0x014;
constexpr uint64_t kDriverFeatures = 0x020;
constexpr uint64_t kDriverFeaturesSel = 0x024;
constexpr uint64_t kQueueSel = 0x030;
constexpr uint64_t kQueueNumMax = 0x034;
constexpr uint64_t kQueueNum = 0x038;
constexpr uint64_t kQueueReady = 0x044;
constexpr uint64_t kQueueNotify = 0x050;
constexpr uint64_t kInterruptStatus = 0x060;
constexpr uint64_t kInterruptAck = 0x064;
constexpr uint64_t kStatus = 0x070;
constexpr uint64_t kQueueDescLow = 0x080;
constexpr uint64_t kQueueDescHigh = 0x084;
constexpr uint64_t kQueueDriverLow = 0x090;
constexpr uint64_t kQueueDriverHigh = 0x094;
constexpr uint64_t kQueueDeviceLow = 0x0a0;
constexpr uint64_t kQueueDeviceHigh = 0x0a4;
constexpr uint64_t kConfigGeneration = 0x0fc;
constexpr uint64_t kConfig = 0x100;

constexpr uint32_t kMagic = 0x74726976;  // "virt"
constexpr uint32_t kMmioVersion = 2;
constexpr uint32_t kVendor = 0x554d4551;  // the value Linux and QEMU use for generic devices

GuestAddress set_low(GuestAddress a, uint32_t v) {
  return GuestAddress((a.raw & 0xffffffff00000000ULL) | v);
}
GuestAddress set_high(GuestAddress a, uint32_t v) {
  return GuestAddress((a.raw & 0xffffffffULL) | (uint64_t{v} << 32));
}

}  // namespace

VirtioMmioTransport::VirtioMmioTransport(std::shared_ptr<VirtioDevice> device,
                                         const GuestMemory& memory, IrqLine& irq)
    : device_(std::move(device)),
      memory_(memory),
      irq_(irq),
      state_(device_->features(), device_->queue_max_sizes()) {
  for (size_t i = 0; i < device_->queue_max_sizes().size(); ++i) {
    UniqueFd fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!fd) throw system_error("cannot create virtio queue eventfd", errno);
    eventfd_numbers_.push_back(fd.get());
    eventfds_.push_back(std::move(fd));
  }
}

VirtioMmioTransport::~VirtioMmioTransport() {
  std::lock_guard lock(mutex_);
  if (active_) device_->reset();
}

void VirtioMmioTransport::shutdown() {
  std::lock_guard lock(mutex_);
  if (active_) {
    device_->reset();
    active_ = false;
  }
}

int VirtioMmioTransport::queue_eventfd(uint16_t queue) const noexcept {
  return queue < eventfds_.size() ? eventfds_[queue].get() : -1;
}

void VirtioMmioTransport::read(uint64_t offset, std::span<uint8_t> data) {
  if (offset >= kConfig) {
    device_->read_config(offset - kConfig, data);
    return;
  }
  std::fill(data.begin(), data.end(), uint8_t{0});
  if (data.size() != 4 || offset % 4 != 0) return;  // registers are 32-bit only (4.2.2.2)
  std::lock_guard lock(mutex_);
  const uint32_t v = read_register(offset);
  std::memcpy(data.data(), &v, 4);
}

void VirtioMmioTransport::write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset >= kConfig) {
    device_->write_config(offset - kConfig, data);
    return;
  }
  if (data.size() != 4 || offset % 4 != 0) return;
  uint32_t v = 0;
  std::memcpy(&v, data.data(), 4);
  std::lock_guard lock(mutex_);
  write_register(offset, v);
}

uint32_t VirtioMmioTransport::read_register(uint64_t offset) {
  Queue* q = state_.selected_queue();
  switch (offset) {
    case kMagicValue:
      return kMagic;
    case kVersion:
      return kMmioVersion;
    case kDeviceId:
      return static_cast<uint32_t>(device_->device_type());
    case kVendorId:
      return kVendor;
    case kDeviceFeatures:
      return state_.device_features_word(device_features_select_);
    case kQueueNumMax:
      return q != nullptr ? q->max_size() : 0;
    case kQueueReady:
      return q != nullptr && q->ready() ? 1 : 0;
    case kInterruptStatus:
      return interrupt_status_.load();
    case kStatus:
      return state_.status();
    case kConfigGeneration:
      return state_.config_generation();
    default:
      return 0;
  }
}

void VirtioMmioTransport::write_register(uint64_t offset, uint32_t v) {
  Queue* q = state_.selected_queue();
  const bool queue_writable = state_.queue_config_writable();
  switch (offset) {
    case kDeviceFeaturesSel:
      device_features_select_ = v;
      return;
    case kDriverFeaturesSel:
      driver_features_select_ = v;
      return;
    case kDriverFeatures:
      state_.write_driver_features_word(driver_features_select_, v);
      return;
    case kQueueSel:
      state_.set_queue_select(static_cast<uint16_t>(v > 0xffff ? 0xffff : v));
      return;
    case kQueueNum:
      if (queue_writable) q->set_size(static_cast<uint16_t>(v > 0xffff ? 0 : v));
      return;
    case kQueueDescLow:
      if (queue_writable) q->set_desc_table(set_low(q->desc_table(), v));
      return;
    case kQueueDescHigh:
      if (queue_writable) q->set_desc_table(set_high(q->desc_table(), v));
      return;
    case kQueueDriverLow:
      if (queue_writable) q->set_avail_ring(set_low(q->avail_ring(), v));
      return;
    case kQueueDriverHigh:
      if (queue_writable) q->set_avail_ring(set_high(q->avail_ring(), v));
      return;
    case kQueueDeviceLow:
      if (queue_writable) q->set_used_ring(set_low(q->used_ring(), v));
      return;
    case kQueueDeviceHigh:
      if (queue_writable) q->set_used_ring(set_high(q->used_ring(), v));
      return;
    case kQueueReady:
      if (v == 1 && queue_writable && !state_.enable_selected_queue(memory_)) {
        raise(kInterruptConfigChange);
      } else if (v == 0 && q != nullptr && !state_.driver_ok()) {
        q->reset();
      }
      return;
    case kQueueNotify:
      if (v < eventfds_.size()) {
        const uint64_t one = 1;
        if (::write(eventfds_[v].get(), &one, sizeof one) < 0 && errno != EAGAIN) {
          spdlog::warn("virtio-mmio: queue notify failed: {}", std::strerror(errno));
        }
      }
      return;
    case kInterruptAck: {
      std::lock_guard irq_lock(irq_mutex_);
      const uint32_t left = interrupt_status_.fetch_and(~v) & ~v;
      if (left == 0) irq_.set_level(false);
      return;
    }
    case kStatus: {
      switch (state_.write_status(static_cast<uint8_t>(v))) {
        case VirtioDeviceState::StatusAction::kReset:
          reset_locked();
          return;
        case VirtioDeviceState::StatusAction::kActivate:
          try {
            device_->activate(ActivateContext{memory_, state_.queues(), eventfd_numbers_,
                                              state_.driver_features(), *this});
            active_ = true;
          } catch (const std::exception& e) {
            spdlog::error("virtio-mmio: device failed to start: {}", e.what());
            state_.activation_failed();
            raise(kInterruptConfigChange);
          }
          return;
        case VirtioDeviceState::StatusAction::kNone:
          return;
      }
      return;
    }
    default:
      SPDLOG_DEBUG("virtio-mmio: write {:#x} to read-only or unknown register {:#x}", v, offset);
      return;
  }
}

void VirtioMmioTransport::reset_locked() {
  if (active_) device_->reset();
  active_ = false;
  state_.reset();
  device_features_select_ = 0;
  driver_features_select_ = 0;
  std::lock_guard irq_lock(irq_mutex_);
  interrupt_status_.store(0);
  irq_.set_level(false);
}

void VirtioMmioTransport::raise(uint32_t bits) {
  std::lock_guard irq_lock(irq_mutex_);
  interrupt_status_.fetch_or(bits);
  irq_.set_level(true);
}

void VirtioMmioTransport::signal_used_queue(uint16_t /*queue*/) { raise(kInterruptUsedBuffer); }

void VirtioMmioTransport::signal_config_change() { raise(kInterruptConfigChange); }

void VirtioMmioTransport::set_device_needs_reset() {
  state_.set_needs_reset();
  raise(kInterruptConfigChange);
}

}  // namespace vmm::virtio
