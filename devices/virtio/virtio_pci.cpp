#include "devices/virtio/virtio_pci.hpp"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "vmm/common/checked.hpp"
#include "vmm/common/error.hpp"

namespace vmm::virtio {
namespace {

// 4.1.4 Virtio Structure PCI Capabilities.
constexpr uint8_t kCapVendor = 0x09;
constexpr uint8_t kCapCommonCfg = 1;
constexpr uint8_t kCapNotifyCfg = 2;
constexpr uint8_t kCapIsrCfg = 3;
constexpr uint8_t kCapDeviceCfg = 4;

constexpr uint16_t kVirtioVendor = 0x1af4;
constexpr uint16_t kModernDeviceIdBase = 0x1040;

pci::PciId pci_id(DeviceType type) {
  uint8_t cls = 0xff;
  uint8_t sub = 0x00;
  switch (type) {
    case DeviceType::kBlock:
      cls = 0x01;
      sub = 0x00;
      break;  // mass storage
    case DeviceType::kNet:
      cls = 0x02;
      sub = 0x00;
      break;  // ethernet
    case DeviceType::k9p:
      cls = 0x01;
      sub = 0x80;
      break;  // other mass storage, as QEMU's virtio-9p-pci
    case DeviceType::kConsole:
    case DeviceType::kVsock:
      cls = 0x07;
      sub = 0x80;
      break;  // other communication
  }
  const auto id = static_cast<uint16_t>(type);
  return pci::PciId{.vendor = kVirtioVendor,
                    .device = static_cast<uint16_t>(kModernDeviceIdBase + id),
                    .class_code = cls,
                    .subclass = sub,
                    .prog_if = 0,
                    .revision = 1,  // modern only
                    .subsystem_vendor = kVirtioVendor,
                    .subsystem = static_cast<uint16_t>(0x40 + id)};
}

void add_virtio_cap(pci::PciConfigSpace& config, uint8_t type, uint32_t offset, uint32_t length,
                    std::optional<uint32_t> notify_multiplier = std::nullopt) {
  std::array<uint8_t, 20> cap{};
  const uint8_t len = notify_multiplier ? 20 : 16;
  cap[0] = kCapVendor;
  cap[2] = len;
  cap[3] = type;
  cap[4] = 0;  // BAR 0
  std::memcpy(&cap[8], &offset, 4);
  std::memcpy(&cap[12], &length, 4);
  if (notify_multiplier) std::memcpy(&cap[16], &*notify_multiplier, 4);
  config.add_capability(std::span(cap.data(), len));
}

uint64_t load_le(std::span<const uint8_t> data) {
  uint64_t v = 0;
  std::memcpy(&v, data.data(), std::min<size_t>(data.size(), 8));
  return v;
}

// Replaces the 32-bit half `high` of a 64-bit guest address.
GuestAddress with_half(GuestAddress a, bool high, uint32_t v) {
  if (high) return GuestAddress((a.raw & 0xffffffffULL) | (uint64_t{v} << 32));
  return GuestAddress((a.raw & ~0xffffffffULL) | v);
}

}  // namespace

VirtioPciDevice::VirtioPciDevice(std::shared_ptr<VirtioDevice> device, const GuestMemory& memory,
                                 MsiRouter& msi, IoEventRegistrar& ioevents, IrqLine* intx)
    : device_(std::move(device)),
      memory_(memory),
      ioevents_(ioevents),
      intx_(intx),
      config_(pci_id(device_->device_type())),
      // One vector per queue plus one for configuration changes.
      msix_(msi, static_cast<uint16_t>(device_->queue_max_sizes().size() + 1), 0,
            kPciMsixTableOffset, kPciMsixPbaOffset),
      state_(device_->features(), device_->queue_max_sizes()),
      queue_vectors_(device_->queue_max_sizes().size()) {
  for (auto& v : queue_vectors_) v.store(kNoVector);
  for (size_t q = 0; q < device_->queue_max_sizes().size(); ++q) {
    UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!fd) throw system_error("eventfd", errno);
    queue_eventfd_numbers_.push_back(fd.get());
    queue_eventfds_.push_back(std::move(fd));
  }
  config_.add_memory_bar(0, kPciBarSize);
  add_virtio_cap(config_, kCapCommonCfg, kPciCommonCfgOffset, kPciCommonCfgSize);
  add_virtio_cap(config_, kCapIsrCfg, kPciIsrOffset, 1);
  add_virtio_cap(config_, kCapDeviceCfg, kPciDeviceCfgOffset, kPciDeviceCfgSize);
  add_virtio_cap(config_, kCapNotifyCfg, kPciNotifyOffset,
                 static_cast<uint32_t>(queue_eventfds_.size()) * kPciNotifyMultiplier,
                 kPciNotifyMultiplier);
  msix_.add_capability(config_);
  if (intx_ != nullptr) config_.set_interrupt_pin(1);  // INTA#
}

VirtioPciDevice::~VirtioPciDevice() {
  shutdown();
  move_ioevents(0);
}

void VirtioPciDevice::shutdown() {
  std::lock_guard lock(mutex_);
  if (active_) {
    device_->reset();
    active_ = false;
  }
}

void VirtioPciDevice::config_write(uint16_t offset, std::span<const uint8_t> data) {
  config_.write(offset, data);
  const bool was_enabled = msix_.enabled();
  msix_.config_written(config_);
  if (msix_.enabled() != was_enabled) {
    std::lock_guard lock(mutex_);
    if (active_) {
      for (size_t q = 0; q < queue_vectors_.size(); ++q) {
        device_->interrupt_changed(static_cast<uint16_t>(q));
      }
    }
  }
}

void VirtioPciDevice::bar_mapped(uint8_t bar, uint64_t address) {
  if (bar != 0) return;
  std::lock_guard lock(mutex_);
  move_ioevents(address == 0 ? 0 : address + kPciNotifyOffset);
}

void VirtioPciDevice::move_ioevents(uint64_t notify_address) {
  if (notify_address == notify_address_) return;
  for (size_t q = 0; q < queue_eventfds_.size(); ++q) {
    const int fd = queue_eventfds_[q].get();
    if (notify_address_ != 0) {
      try {
        ioevents_.unregister_mmio(fd, notify_address_ + q * kPciNotifyMultiplier, 2);
      } catch (const Error& e) {
        spdlog::warn("virtio-pci: {}", e.what());
      }
    }
    if (notify_address != 0) {
      // Linux writes the 16-bit queue index; other widths still reach notify via bar_write.
      ioevents_.register_mmio(fd, notify_address + q * kPciNotifyMultiplier, 2);
    }
  }
  notify_address_ = notify_address;
}

void VirtioPciDevice::bar_read(uint8_t bar, uint64_t offset, std::span<uint8_t> data) {
  std::fill(data.begin(), data.end(), 0);
  if (bar != 0) return;
  if (offset < kPciCommonCfgOffset + kPciCommonCfgSize) {
    common_read(offset - kPciCommonCfgOffset, data);
  } else if (offset == kPciIsrOffset && data.size() == 1) {
    // Reading the ISR acknowledges the interrupt (4.1.4.5).
    data[0] = isr_.exchange(0);
    if (intx_ != nullptr) intx_->set_level(false);
  } else if (range_within(offset, data.size(), kPciDeviceCfgOffset, kPciDeviceCfgSize)) {
    device_->read_config(offset - kPciDeviceCfgOffset, data);
  } else if (range_within(offset, data.size(), kPciMsixTableOffset, msix_.table_size())) {
    msix_.table_read(offset - kPciMsixTableOffset, data);
  } else if (range_within(offset, data.size(), kPciMsixPbaOffset, msix_.pba_size())) {
    msix_.pba_read(offset - kPciMsixPbaOffset, data);
  }
}

void VirtioPciDevice::bar_write(uint8_t bar, uint64_t offset, std::span<const uint8_t> data) {
  if (bar != 0) return;
  if (offset < kPciCommonCfgOffset + kPciCommonCfgSize) {
    common_write(offset - kPciCommonCfgOffset, data);
  } else if (range_within(offset, data.size(), kPciDeviceCfgOffset, kPciDeviceCfgSize)) {
    device_->write_config(offset - kPciDeviceCfgOffset, data);
  } else if (range_within(offset, data.size(), kPciNotifyOffset,
                          queue_eventfds_.size() * kPciNotifyMultiplier)) {
    // A notify the ioeventfd did not catch (another access width): forward it by hand.
    const uint64_t q = (offset - kPciNotifyOffset) / kPciNotifyMultiplier;
    const uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(queue_eventfds_[q].get(), &one, sizeof(one));
  } else if (range_within(offset, data.size(), kPciMsixTableOffset, msix_.table_size())) {
    msix_.table_write(offset - kPciMsixTableOffset, data);
  }
}

void VirtioPciDevice::common_read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mutex_);
  // Build the whole structure (4.1.4.3) and copy out the bytes asked for.
  std::array<uint8_t, kPciCommonCfgSize> regs{};
  auto put = [&regs](size_t at, auto value) { std::memcpy(&regs[at], &value, sizeof(value)); };
  put(0x00, device_feature_select_);
  put(0x04, state_.device_features_word(device_feature_select_));
  put(0x08, driver_feature_select_);
  put(0x0c, driver_feature_select_ < 2
                ? static_cast<uint32_t>(state_.driver_features() >> (32 * driver_feature_select_))
                : 0U);
  put(0x10, config_vector_.load());
  put(0x12, static_cast<uint16_t>(state_.queues().size()));
  put(0x14, state_.status());
  put(0x15, static_cast<uint8_t>(config_generation_.load()));
  put(0x16, state_.queue_select());
  if (Queue* q = state_.selected_queue()) {
    put(0x18, q->size());
    put(0x1a, queue_vectors_[state_.queue_select()].load());
    put(0x1c, static_cast<uint16_t>(q->ready() ? 1 : 0));
    put(0x1e, state_.queue_select());  // queue_notify_off: one slot per queue
    put(0x20, q->desc_table().raw);
    put(0x28, q->avail_ring().raw);
    put(0x30, q->used_ring().raw);
  }
  if (!range_within(offset, data.size(), 0, regs.size())) return;
  std::memcpy(data.data(), &regs[offset], data.size());
}

void VirtioPciDevice::common_write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mutex_);
  const uint64_t v = load_le(data);
  const auto v32 = static_cast<uint32_t>(v);
  const auto v16 = static_cast<uint16_t>(v);
  Queue* q = state_.selected_queue();
  const bool queue_writable = q != nullptr && state_.queue_config_writable() && !q->ready();
  auto valid_vector = [this](uint16_t vec) { return vec < msix_.vectors() ? vec : kNoVector; };
  switch (offset) {
    case 0x00:
      device_feature_select_ = v32;
      break;
    case 0x08:
      driver_feature_select_ = v32;
      break;
    case 0x0c:
      state_.write_driver_features_word(driver_feature_select_, v32);
      break;
    case 0x10:
      config_vector_.store(valid_vector(v16));
      break;
    case 0x14:
      if (data.size() != 1) break;
      switch (state_.write_status(static_cast<uint8_t>(v))) {
        case VirtioDeviceState::StatusAction::kReset:
          reset_device();
          break;
        case VirtioDeviceState::StatusAction::kActivate:
          activate();
          break;
        case VirtioDeviceState::StatusAction::kNone:
          break;
      }
      break;
    case 0x16:
      state_.set_queue_select(v16);
      break;
    case 0x18:
      if (queue_writable) q->set_size(v16);
      break;
    case 0x1a:
      if (q != nullptr) {
        queue_vectors_[state_.queue_select()].store(valid_vector(v16));
        if (active_) device_->interrupt_changed(state_.queue_select());
      }
      break;
    case 0x1c:
      if (queue_writable && v16 == 1 && !state_.enable_selected_queue(memory_)) {
        spdlog::warn("virtio-pci: the driver enabled queue {} with rings outside guest RAM",
                     state_.queue_select());
        raise(config_vector_.load(), 2);
      }
      break;
    case 0x20:
    case 0x24:
      if (queue_writable) q->set_desc_table(with_half(q->desc_table(), offset == 0x24, v32));
      break;
    case 0x28:
    case 0x2c:
      if (queue_writable) q->set_avail_ring(with_half(q->avail_ring(), offset == 0x2c, v32));
      break;
    case 0x30:
    case 0x34:
      if (queue_writable) q->set_used_ring(with_half(q->used_ring(), offset == 0x34, v32));
      break;
    default:
      break;  // read-only or reserved
  }
}

void VirtioPciDevice::activate() {
  const ActivateContext context{.memory = memory_,
                                .queues = state_.queues(),
                                .queue_eventfds = queue_eventfd_numbers_,
                                .features = state_.driver_features(),
                                .interrupt = *this};
  try {
    device_->activate(context);
    active_ = true;
  } catch (const Error& e) {
    spdlog::error("virtio-pci: device failed to start: {}", e.what());
    state_.activation_failed();
    raise(config_vector_.load(), 2);
  }
}

void VirtioPciDevice::reset_device() {
  if (active_) {
    device_->reset();
    active_ = false;
  }
  state_.reset();
  device_feature_select_ = 0;
  driver_feature_select_ = 0;
  config_vector_.store(kNoVector);
  for (auto& v : queue_vectors_) v.store(kNoVector);
  isr_.store(0);
  if (intx_ != nullptr) intx_->set_level(false);
}

void VirtioPciDevice::raise(uint16_t vector, uint8_t isr_bit) {
  if (msix_.notify(vector)) return;
  isr_.fetch_or(isr_bit);
  if (intx_ != nullptr) intx_->set_level(true);
}

void VirtioPciDevice::signal_used_queue(uint16_t queue) {
  if (queue >= queue_vectors_.size()) return;
  raise(queue_vectors_[queue].load(), 1);
}

void VirtioPciDevice::signal_config_change() {
  // No lock: a vCPU thread may hold mutex_ while it waits for this device's thread in reset().
  config_generation_.fetch_add(1);
  raise(config_vector_.load(), 2);
}

int VirtioPciDevice::queue_interrupt_eventfd(uint16_t queue) {
  if (queue >= queue_vectors_.size()) return -1;
  return msix_.vector_eventfd(queue_vectors_[queue].load());
}

void VirtioPciDevice::set_device_needs_reset() {
  state_.set_needs_reset();
  raise(config_vector_.load(), 2);
}

}  // namespace vmm::virtio
