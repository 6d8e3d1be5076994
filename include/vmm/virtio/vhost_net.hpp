#pragma once
// The kernel's vhost-net as a virtio-net data path: vmm describes guest RAM and the two
// virtqueues to /dev/vhost-net once the driver is ready, hands it the TAP, and from then on
// the kernel moves the packets; a guest kick reaches vhost through the queue's ioeventfd and
// vhost signals the used ring through the queue's call eventfd.
//
// The ioctls go through VhostIoctl so unit tests can check what vmm asks of the kernel.
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vmm/common/unique_fd.hpp"
#include "vmm/memory/guest_memory.hpp"
#include "vmm/virtio/queue.hpp"

namespace vmm::virtio {

inline constexpr const char* kVhostNetDevice = "/dev/vhost-net";

class VhostIoctl {
 public:
  VhostIoctl() = default;
  VhostIoctl(const VhostIoctl&) = delete;
  VhostIoctl& operator=(const VhostIoctl&) = delete;
  virtual ~VhostIoctl() = default;
  // One ioctl on the vhost descriptor: 0, or the errno it failed with.
  virtual int ioctl(unsigned long request, void* arg) noexcept = 0;
};

// A /dev/vhost-net descriptor.
class VhostNetFd final : public VhostIoctl {
 public:
  explicit VhostNetFd(UniqueFd fd) noexcept : fd_(std::move(fd)) {}
  int ioctl(unsigned long request, void* arg) noexcept override;

 private:
  UniqueFd fd_;
};

// Opens `path` (normally kVhostNetDevice); nullptr and the reason in `why` when it cannot.
[[nodiscard]] std::unique_ptr<VhostIoctl> open_vhost_net(const std::string& path, std::string& why);

// A guest RAM region as vhost_memory_region describes it.
struct VhostRegion {
  uint64_t guest_phys_addr = 0;
  uint64_t memory_size = 0;
  uint64_t userspace_addr = 0;
  friend bool operator==(const VhostRegion&, const VhostRegion&) = default;
};
[[nodiscard]] std::vector<VhostRegion> vhost_regions(const GuestMemory& memory);

// The host addresses of a queue's rings (vhost_vring_addr).
struct VhostRingAddresses {
  uint64_t desc = 0;
  uint64_t avail = 0;
  uint64_t used = 0;
  friend bool operator==(const VhostRingAddresses&, const VhostRingAddresses&) = default;
};
// Translates the rings of a queue of `size` entries; nullopt when a ring is misaligned (16, 2
// and 4 bytes, 2.7) or not wholly inside one guest RAM region (with the event fields, which
// vhost touches when EVENT_IDX is negotiated, so they are always counted).
[[nodiscard]] std::optional<VhostRingAddresses> vhost_ring_addresses(const GuestMemory& memory,
                                                                     uint16_t size,
                                                                     GuestAddress desc,
                                                                     GuestAddress avail,
                                                                     GuestAddress used) noexcept;

class VhostNet final {
 public:
  // Takes ownership of the device (VHOST_SET_OWNER) and reads what it offers. Throws
  // vmm::Error when the kernel refuses.
  explicit VhostNet(std::unique_ptr<VhostIoctl> io);
  ~VhostNet();
  VhostNet(const VhostNet&) = delete;
  VhostNet& operator=(const VhostNet&) = delete;

  // VHOST_GET_FEATURES: the virtio feature bits vhost can serve.
  [[nodiscard]] uint64_t features() const noexcept { return features_; }

  struct QueueWiring {
    const Queue* queue;
    int kick;  // eventfd the guest's notifications signal
    int call;  // eventfd vhost signals when the driver wants an interrupt
  };
  // Programs features (the driver's, restricted to features()), the memory table and every
  // queue, then attaches `tap_fd` to each. Throws vmm::Error (and leaves the device stopped)
  // when a ring lies outside guest RAM or the kernel refuses.
  void start(const GuestMemory& memory, uint64_t driver_features,
             std::span<const QueueWiring> queues, int tap_fd);
  // VHOST_SET_VRING_CALL while running: where vhost signals queue `index` from now on.
  void set_call(unsigned index, int call);
  // Detaches the TAP from every queue: vhost stops touching guest memory. Idempotent.
  void stop() noexcept;

 private:
  void call(unsigned long request, void* arg, const char* what) const;

  std::unique_ptr<VhostIoctl> io_;
  uint64_t features_ = 0;
  unsigned started_queues_ = 0;
};

}  // namespace vmm::virtio
