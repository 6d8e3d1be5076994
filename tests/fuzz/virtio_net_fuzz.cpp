// Fuzzes the virtio-net device end to end: the input becomes guest RAM holding the rings of
// two queue pairs and the control queue, their descriptor tables and the buffers; the device
// is activated with fuzzer-chosen features (mergeable buffers, GSO, indirect descriptors,
// event index, multi-queue), serves every queue once, is offered packets of fuzzer-chosen
// sizes, and is reset. The test backend checks that every buffer the device hands it for
// transmission lies inside guest RAM; ASan checks the receive side's writes. Any crash, hang
// or sanitizer report is a bug. Input: a feature byte, two packet-size bytes, then RAM, whose
// queue q has its descriptor table at q * 0x600, avail ring at +0x100, used ring at +0x200
// (16 entries each); virtio_net_fuzz.seeds holds well-formed starting points.
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "vmm/common/unique_fd.hpp"
#include "vmm/event_loop/event_loop.hpp"
#include "vmm/memory/guest_memory.hpp"
#include "vmm/virtio/net_device.hpp"
#include "vmm/virtio/queue.hpp"
#include "vmm/virtio/virtio_spec.hpp"

namespace {

using namespace vmm::virtio;

constexpr uint64_t kRamSize = uint64_t{64} * 1024;
constexpr uint16_t kRingSize = 16;
constexpr size_t kQueues = 5;  // rx0 tx0 rx1 tx1 ctrl
constexpr uint64_t kRingStride = 0x600;

const vmm::GuestMemory& memory() {
  static const vmm::GuestMemory mem =
      vmm::GuestMemory::create_regions({{vmm::GuestAddress(0), kRamSize}});
  return mem;
}

bool inside_ram(const void* p, size_t len) {
  const auto* base = memory().span(vmm::GuestAddress(0), kRamSize)->data();
  const auto* b = static_cast<const uint8_t*>(p);
  return b >= base && len <= kRamSize && static_cast<size_t>(b - base) <= kRamSize - len;
}

class NullInterrupt final : public VirtioInterrupt {
 public:
  void signal_used_queue(uint16_t /*queue*/) override {}
  void signal_config_change() override {}
  void set_device_needs_reset() override {}
};

// Offers `packets` (then nothing) and checks what the device sends.
class FuzzBackend final : public NetBackend {
 public:
  std::string describe() const override { return "fuzz"; }
  bool supports_offloads() const noexcept override { return true; }
  void set_offloads(const NetOffloads& /*guest_accepts*/) override {}
  void start(vmm::EventLoop& /*loop*/, std::function<void()> on_readable) override {
    on_readable_ = std::move(on_readable);
  }
  void stop() override { on_readable_ = nullptr; }
  void wait_readable() override { armed_ = true; }
  size_t receive(std::span<const iovec> buffers) override {
    if (packets_.empty()) return 0;
    const std::vector<uint8_t> p = std::move(packets_.back());
    packets_.pop_back();
    size_t done = 0;
    for (const iovec& s : buffers) {
      if (done == p.size()) break;
      const size_t n = std::min(s.iov_len, p.size() - done);
      std::memcpy(s.iov_base, p.data() + done, n);
      done += n;
    }
    return p.size();
  }
  bool send(std::span<const iovec> segments) override {
    for (const iovec& s : segments) {
      if (!inside_ram(s.iov_base, s.iov_len)) __builtin_trap();
    }
    return true;
  }
  // Loop thread: the backend became readable.
  void readable() {
    if (armed_ && on_readable_) {
      armed_ = false;
      on_readable_();
    }
  }

  std::vector<std::vector<uint8_t>> packets_;

 private:
  std::function<void()> on_readable_;
  bool armed_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static vmm::EventLoop loop;
  static const std::array<vmm::UniqueFd, kQueues> kicks = [] {
    std::array<vmm::UniqueFd, kQueues> fds;
    for (auto& fd : fds) fd.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    return fds;
  }();
  spdlog::set_level(spdlog::level::off);  // drops are expected; their warnings are noise
  const auto& mem = memory();
  if (size < 4) return 0;
  const uint8_t flags = data[0];
  uint64_t features = feature_bit(kFeatureVersion1);
  if (flags & 1) features |= feature_bit(kNetFeatureMrgRxbuf);
  if (flags & 2) features |= feature_bit(kNetFeatureGuestCsum) | feature_bit(kNetFeatureGuestTso4);
  if (flags & 4) features |= feature_bit(kFeatureRingIndirectDesc);
  if (flags & 8) features |= feature_bit(kFeatureRingEventIdx);
  if (flags & 16) features |= feature_bit(kNetFeatureMq) | feature_bit(kNetFeatureCtrlVq);
  // Packets offered on pair 0 and 1: sizes from the next two bytes (some beyond the maximum).
  std::array<size_t, 2> packet_sizes{size_t{data[1]} * 300, size_t{data[2]} * 7};
  std::memset(mem.span(vmm::GuestAddress(0), kRamSize)->data(), 0, kRamSize);
  (void)mem.write(vmm::GuestAddress(0), std::span(data + 3, std::min<size_t>(size - 3, kRamSize)));

  std::array<FuzzBackend*, 2> backends{};
  std::vector<std::unique_ptr<NetBackend>> owned;
  for (size_t i = 0; i < backends.size(); ++i) {
    auto b = std::make_unique<FuzzBackend>();
    backends[i] = b.get();
    for (size_t n = 0; n < 2; ++n) b->packets_.emplace_back(packet_sizes[i], uint8_t{0x5a});
    owned.push_back(std::move(b));
  }
  VirtioNet net(std::move(owned), MacAddress{2, 0, 0, 0, 0, 1}, loop);
  std::array<Queue, kQueues> queues{Queue(kRingSize), Queue(kRingSize), Queue(kRingSize),
                                    Queue(kRingSize), Queue(kRingSize)};
  std::array<int, kQueues> fds{};
  for (size_t q = 0; q < kQueues; ++q) {
    queues[q].set_size(kRingSize);
    queues[q].set_desc_table(vmm::GuestAddress(q * kRingStride));
    queues[q].set_avail_ring(vmm::GuestAddress(q * kRingStride + 0x100));
    queues[q].set_used_ring(vmm::GuestAddress(q * kRingStride + 0x200));
    (void)queues[q].enable(mem, features);
    fds[q] = kicks[q].get();
  }
  NullInterrupt irq;
  net.activate(ActivateContext{mem, queues, fds, features, irq});
  loop.run_sync([] {});  // the first pass over every queue ran
  loop.run_sync([&] {
    for (FuzzBackend* b : backends) b->readable();
  });
  net.reset();
  return 0;
}
