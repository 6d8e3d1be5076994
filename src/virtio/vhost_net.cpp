#include "vmm/virtio/vhost_net.hpp"

#include <fcntl.h>
// virtio_ring.h (included by vhost.h) has C-only legacy helpers.
#define VIRTIO_RING_NO_LEGACY
#include <linux/vhost.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include "vmm/common/error.hpp"
#include "vmm/virtio/virtio_spec.hpp"

namespace vmm::virtio {

namespace {

// The host address of [addr, addr + len), when it lies in one RAM region and is aligned.
std::optional<uint64_t> host_address(const GuestMemory& memory, GuestAddress addr, uint64_t len,
                                     uint64_t align) noexcept {
  if (addr.raw % align != 0) return std::nullopt;
  const auto span = memory.span(addr, len);
  if (!span) return std::nullopt;
  return reinterpret_cast<uintptr_t>(span->data());
}

}  // namespace

int VhostNetFd::ioctl(unsigned long request, void* arg) noexcept {
  for (;;) {
    if (::ioctl(fd_.get(), request, arg) >= 0) return 0;
    if (errno != EINTR) return errno;
  }
}

std::unique_ptr<VhostIoctl> open_vhost_net(const std::string& path, std::string& why) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) {
    why = path + ": " + std::strerror(errno);
    return nullptr;
  }
  return std::make_unique<VhostNetFd>(std::move(fd));
}

std::vector<VhostRegion> vhost_regions(const GuestMemory& memory) {
  std::vector<VhostRegion> regions;
  for (const GuestRegion& r : memory.regions()) {
    regions.push_back(VhostRegion{.guest_phys_addr = r.start.raw,
                                  .memory_size = r.size,
                                  .userspace_addr = reinterpret_cast<uintptr_t>(r.host)});
  }
  return regions;
}

std::optional<VhostRingAddresses> vhost_ring_addresses(const GuestMemory& memory, uint16_t size,
                                                       GuestAddress desc, GuestAddress avail,
                                                       GuestAddress used) noexcept {
  if (size == 0) return std::nullopt;
  // uint16_t entries: none of these products can overflow 64 bits.
  const auto d = host_address(memory, desc, kDescriptorSize * size, kDescTableAlign);
  const auto a = host_address(
      memory, avail, kRingHeaderSize + kAvailElemSize * size + kRingEventSize, kAvailRingAlign);
  const auto u = host_address(memory, used, kRingHeaderSize + kUsedElemSize * size + kRingEventSize,
                              kUsedRingAlign);
  if (!d || !a || !u) return std::nullopt;
  return VhostRingAddresses{.desc = *d, .avail = *a, .used = *u};
}

VhostNet::VhostNet(std::unique_ptr<VhostIoctl> io) : io_(std::move(io)) {
  call(VHOST_SET_OWNER, nullptr, "VHOST_SET_OWNER");
  call(VHOST_GET_FEATURES, &features_, "VHOST_GET_FEATURES");
  // The TAP carries the 12-byte VERSION_1 header; a legacy-only vhost cannot use it.
  if ((features_ & feature_bit(kFeatureVersion1)) == 0) {
    throw Error("vhost-net does not offer VIRTIO_F_VERSION_1");
  }
}

VhostNet::~VhostNet() { stop(); }

void VhostNet::call(unsigned long request, void* arg, const char* what) const {
  const int error = io_->ioctl(request, arg);
  if (error != 0) throw system_error(std::string("vhost-net ") + what, error);
}

void VhostNet::start(const GuestMemory& memory, uint64_t driver_features,
                     std::span<const QueueWiring> queues, int tap_fd) {
  stop();
  // Every ring is checked before the kernel is told anything.
  std::vector<VhostRingAddresses> rings;
  for (size_t i = 0; i < queues.size(); ++i) {
    const Queue& q = *queues[i].queue;
    const auto ring =
        vhost_ring_addresses(memory, q.size(), q.desc_table(), q.avail_ring(), q.used_ring());
    if (!ring) {
      throw Error("vhost-net: queue " + std::to_string(i) +
                  " has rings outside guest RAM or misaligned");
    }
    rings.push_back(*ring);
  }

  uint64_t acked = driver_features & features_;
  call(VHOST_SET_FEATURES, &acked, "VHOST_SET_FEATURES");

  const std::vector<VhostRegion> regions = vhost_regions(memory);
  // vhost_memory ends in a flexible array: build it in a buffer of the right size.
  std::vector<uint8_t> table(sizeof(vhost_memory) + regions.size() * sizeof(vhost_memory_region));
  vhost_memory header{};
  header.nregions = static_cast<uint32_t>(regions.size());
  std::memcpy(table.data(), &header, sizeof header);
  for (size_t i = 0; i < regions.size(); ++i) {
    vhost_memory_region r{};
    r.guest_phys_addr = regions[i].guest_phys_addr;
    r.memory_size = regions[i].memory_size;
    r.userspace_addr = regions[i].userspace_addr;
    std::memcpy(table.data() + sizeof(vhost_memory) + i * sizeof r, &r, sizeof r);
  }
  call(VHOST_SET_MEM_TABLE, table.data(), "VHOST_SET_MEM_TABLE");

  for (size_t i = 0; i < queues.size(); ++i) {
    const auto index = static_cast<unsigned>(i);
    vhost_vring_state num{.index = index, .num = queues[i].queue->size()};
    call(VHOST_SET_VRING_NUM, &num, "VHOST_SET_VRING_NUM");
    vhost_vring_state base{.index = index, .num = 0};  // a freshly enabled queue starts at 0
    call(VHOST_SET_VRING_BASE, &base, "VHOST_SET_VRING_BASE");
    vhost_vring_addr addr{};
    addr.index = index;
    addr.desc_user_addr = rings[i].desc;
    addr.avail_user_addr = rings[i].avail;
    addr.used_user_addr = rings[i].used;
    call(VHOST_SET_VRING_ADDR, &addr, "VHOST_SET_VRING_ADDR");
    vhost_vring_file kick{.index = index, .fd = queues[i].kick};
    call(VHOST_SET_VRING_KICK, &kick, "VHOST_SET_VRING_KICK");
    vhost_vring_file irq{.index = index, .fd = queues[i].call};
    call(VHOST_SET_VRING_CALL, &irq, "VHOST_SET_VRING_CALL");
  }
  for (size_t i = 0; i < queues.size(); ++i) {
    vhost_vring_file backend{.index = static_cast<unsigned>(i), .fd = tap_fd};
    try {
      call(VHOST_NET_SET_BACKEND, &backend, "VHOST_NET_SET_BACKEND");
    } catch (const Error&) {
      stop();  // the queues attached so far
      throw;
    }
    started_queues_ = static_cast<unsigned>(i + 1);
  }
}

void VhostNet::set_call(unsigned index, int call_fd) {
  vhost_vring_file irq{.index = index, .fd = call_fd};
  call(VHOST_SET_VRING_CALL, &irq, "VHOST_SET_VRING_CALL");
}

void VhostNet::stop() noexcept {
  for (unsigned i = 0; i < started_queues_; ++i) {
    vhost_vring_file backend{.index = i, .fd = -1};
    (void)io_->ioctl(VHOST_NET_SET_BACKEND, &backend);
  }
  started_queues_ = 0;
}

}  // namespace vmm::virtio
