#pragma once
// The transport-agnostic side of a virtio device. A device model (block, console, ...)
// implements VirtioDevice once; the PCI and MMIO transports wrap it, own the register layout
// and the VirtioDeviceState, and hand the device its queues when the driver sets DRIVER_OK.
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "vmm/memory/guest_memory.hpp"
#include "vmm/virtio/queue.hpp"
#include "vmm/virtio/virtio_spec.hpp"

namespace vmm::virtio {

// Implemented by the transport: how a device reaches the driver. Callable from any thread.
class VirtioInterrupt {
 public:
  VirtioInterrupt() = default;
  VirtioInterrupt(const VirtioInterrupt&) = delete;
  VirtioInterrupt& operator=(const VirtioInterrupt&) = delete;
  virtual ~VirtioInterrupt() = default;

  // Used buffers were added to `queue` and the queue asked for an interrupt.
  virtual void signal_used_queue(uint16_t queue) = 0;
  // The device configuration space changed.
  virtual void signal_config_change() = 0;
  // The guest broke the protocol in a way the device cannot recover from: the transport sets
  // DEVICE_NEEDS_RESET in the status and raises a configuration change interrupt (2.1.2).
  virtual void set_device_needs_reset() = 0;
  // An eventfd whose writes raise `queue`'s interrupt inside the kernel (the irqfd of its
  // MSI-X vector), for devices whose queues the kernel serves (vhost); -1 when the transport
  // has none (MMIO, INTx, no vector). The transport calls the device's interrupt_changed()
  // when the answer may have changed while the device is active.
  [[nodiscard]] virtual int queue_interrupt_eventfd(uint16_t /*queue*/) { return -1; }
};

// What a device receives when the driver sets DRIVER_OK. Everything referenced stays valid
// until the device's reset() returns.
struct ActivateContext {
  const GuestMemory& memory;
  // Enabled queues, index = virtqueue number. Disabled queues are present but not ready().
  std::span<Queue> queues;
  // One eventfd per queue, signalled on every driver notification (a KVM ioeventfd, or
  // written by the transport's notify register). Owned by the transport.
  std::span<const int> queue_eventfds;
  // The features the driver accepted (FEATURES_OK).
  uint64_t features;
  VirtioInterrupt& interrupt;
};

// Named event counts a device keeps (requests, bytes, drops), for the VM's counters API.
using DeviceCounters = std::vector<std::pair<std::string, uint64_t>>;

class VirtioDevice {
 public:
  VirtioDevice() = default;
  VirtioDevice(const VirtioDevice&) = delete;
  VirtioDevice& operator=(const VirtioDevice&) = delete;
  virtual ~VirtioDevice() = default;

  [[nodiscard]] virtual DeviceType device_type() const noexcept = 0;
  // Offered feature bits, including VIRTIO_F_VERSION_1.
  [[nodiscard]] virtual uint64_t features() const noexcept = 0;
  // Number of queues and the largest size of each.
  [[nodiscard]] virtual std::span<const uint16_t> queue_max_sizes() const noexcept = 0;

  // Device configuration space, little-endian. Bytes past the end read as zero; writes to
  // read-only fields are ignored. Called from vCPU threads.
  virtual void read_config(uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void write_config(uint64_t offset, std::span<const uint8_t> data) = 0;

  // The driver set DRIVER_OK: start serving the queues (on the event loop, not the caller's
  // thread). Throws vmm::Error when the host side cannot start.
  virtual void activate(const ActivateContext& context) = 0;
  // The driver wrote 0 to the status (or the VM stops): stop serving the queues. When this
  // returns, the device neither reads nor writes guest memory until the next activate().
  virtual void reset() = 0;

  // The driver moved `queue` to another interrupt vector (or switched MSI-X on or off) while
  // the device is active: a device that uses queue_interrupt_eventfd() asks again.
  virtual void interrupt_changed(uint16_t /*queue*/) {}

  // A snapshot of the device's counters; any thread. Devices that keep none return nothing.
  [[nodiscard]] virtual DeviceCounters named_counters() const { return {}; }
};

// Copies [offset, offset + out.size()) of `config` into `out`; bytes outside read as zero.
void read_config_bytes(std::span<const uint8_t> config, uint64_t offset,
                       std::span<uint8_t> out) noexcept;

}  // namespace vmm::virtio
