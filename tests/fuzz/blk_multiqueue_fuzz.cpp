// Fuzzes the virtio-blk device with 1 to 4 request queues over fuzzer-controlled guest RAM:
// each queue's descriptor table, avail ring and buffers come from the input, the device takes
// them all in its first pass after activation, submits them to its per-queue engines and is
// reset while they may still be in flight. Checks that nothing crashes and that each queue's
// used ring only names heads of that queue and never runs ahead of what the driver offered.
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <future>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vmm/common/unique_fd.hpp"
#include "vmm/event_loop/event_loop.hpp"
#include "vmm/memory/guest_memory.hpp"
#include "vmm/virtio/block_device.hpp"

namespace {

using namespace vmm::virtio;

constexpr uint64_t kRamSize = uint64_t{64} * 1024;
constexpr unsigned kMaxQueues = 4;
constexpr uint16_t kQueueSize = 8;
constexpr uint64_t kQueueStride = 0x1000;  // queue q's rings from q * kQueueStride
constexpr uint64_t kAvailOffset = 0x100;
constexpr uint64_t kUsedOffset = 0x200;
constexpr uint64_t kImageSize = 1 << 20;

class CountingInterrupt final : public VirtioInterrupt {
 public:
  void signal_used_queue(uint16_t /*queue*/) override {}
  void signal_config_change() override {}
  void set_device_needs_reset() override {}
};

// One device per queue count, each on its own image (a writable image is locked).
struct Rig {
  std::string path;
  vmm::EventLoop loop;
  std::unique_ptr<VirtioBlock> device;
};

Rig& rig(unsigned queues) {
  static std::array<std::unique_ptr<Rig>, kMaxQueues> rigs;
  auto& slot = rigs[queues - 1];
  if (!slot) {
    slot = std::make_unique<Rig>();
    std::array<char, 64> name{};
    std::snprintf(name.data(), name.size(), "/tmp/vmm-blk-fuzz-XXXXXX");
    vmm::UniqueFd fd(::mkstemp(name.data()));
    if (!fd || ::ftruncate(fd.get(), kImageSize) != 0) __builtin_trap();
    slot->path = name.data();
    BlockDeviceConfig config;
    config.path = slot->path;
    config.queues = queues;
    config.engine = BlockIoEngineKind::kThreadPool;
    slot->device = std::make_unique<VirtioBlock>(config, slot->loop);
    ::unlink(slot->path.c_str());  // the device keeps it open
  }
  return *slot;
}

uint16_t read_u16(const vmm::GuestMemory& mem, uint64_t addr) {
  return mem.read_obj<uint16_t>(vmm::GuestAddress(addr)).value_or(0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const unsigned queue_count = 1 + data[0] % kMaxQueues;
  const bool event_idx = (data[1] & 1) != 0;
  Rig& r = rig(queue_count);
  const vmm::GuestMemory mem = vmm::GuestMemory::create_regions({{vmm::GuestAddress(0), kRamSize}});
  (void)mem.write(vmm::GuestAddress(0), std::span(data + 2, std::min<size_t>(size - 2, kRamSize)));

  uint64_t features = r.device->features();
  if (!event_idx) features &= ~feature_bit(kFeatureRingEventIdx);
  std::vector<Queue> queues;
  queues.reserve(queue_count);
  std::vector<vmm::UniqueFd> kicks;
  std::vector<int> kick_fds;
  std::vector<uint16_t> offered(queue_count);
  for (unsigned q = 0; q < queue_count; ++q) {
    const uint64_t base = q * kQueueStride;
    // The device starts its used ring from zero: clear the driver-owned fields it reads back.
    (void)mem.write_obj(vmm::GuestAddress(base + kUsedOffset), uint32_t{0});
    queues.emplace_back(VirtioBlock::kQueueSize);
    Queue& queue = queues.back();
    queue.set_size(kQueueSize);
    queue.set_desc_table(vmm::GuestAddress(base));
    queue.set_avail_ring(vmm::GuestAddress(base + kAvailOffset));
    queue.set_used_ring(vmm::GuestAddress(base + kUsedOffset));
    if (!queue.enable(mem, features)) __builtin_trap();  // fixed, valid layout
    offered[q] = read_u16(mem, base + kAvailOffset + 2);
    kicks.emplace_back(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    kick_fds.push_back(kicks.back().get());
  }
  CountingInterrupt irq;
  r.device->activate(ActivateContext{mem, std::span<Queue>(queues.data(), queues.size()), kick_fds,
                                     features, irq});
  // The first pass over every queue was posted by activate(); this runs after it.
  std::promise<void> passed;
  r.loop.post([&passed] { passed.set_value(); });
  passed.get_future().wait();
  r.device->reset();  // waits for or drops whatever is still in flight

  for (unsigned q = 0; q < queue_count; ++q) {
    const uint64_t used = q * kQueueStride + kUsedOffset;
    const uint16_t used_idx = read_u16(mem, used + 2);
    // The device only uses what the driver offered (avail idx from zero; a jump beyond the
    // ring's size breaks the queue instead), once each.
    if (used_idx > kQueueSize || (offered[q] <= kQueueSize && used_idx > offered[q])) {
      __builtin_trap();
    }
    for (uint16_t i = 0; i < std::min<uint16_t>(used_idx, kQueueSize); ++i) {
      const auto id = mem.read_obj<uint32_t>(vmm::GuestAddress(used + 4 + i * 8ULL));
      if (!id || *id >= kQueueSize) __builtin_trap();
    }
  }
  return 0;
}
