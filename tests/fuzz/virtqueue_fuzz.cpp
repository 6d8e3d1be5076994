// Fuzzes the device side of a split virtqueue: the input becomes guest RAM holding the rings,
// descriptor tables and indirect tables; the queue is popped and every chain walked. Any
// crash, hang or sanitizer report is a bug: hostile rings must end in errors.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "vmm/memory/guest_memory.hpp"
#include "vmm/virtio/queue.hpp"
#include "vmm/virtio/virtio_spec.hpp"

namespace {

constexpr uint64_t kRamSize = 64 * 1024;
constexpr uint16_t kQueueSize = 64;

const vmm::GuestMemory& memory() {
  static const vmm::GuestMemory mem =
      vmm::GuestMemory::create_regions({{vmm::GuestAddress(0), kRamSize}});
  return mem;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vmm::virtio;
  const auto& mem = memory();
  if (size < 4) return 0;
  // First bytes choose features and ring placement; the rest is RAM content.
  const uint64_t features = feature_bit(kFeatureVersion1) |
                            ((data[0] & 1) ? feature_bit(kFeatureRingIndirectDesc) : 0) |
                            ((data[0] & 2) ? feature_bit(kFeatureRingEventIdx) : 0);
  const uint16_t qsize = static_cast<uint16_t>(1u << (data[1] % 8));  // 1..128
  const uint64_t ring_shift = static_cast<uint64_t>(data[2]) * 16;
  std::memset(mem.span(vmm::GuestAddress(0), kRamSize)->data(), 0, kRamSize);
  const size_t n = std::min<size_t>(size - 3, kRamSize);
  (void)mem.write(vmm::GuestAddress(0), std::span(data + 3, n));

  Queue queue(kQueueSize);
  queue.set_size(qsize);
  queue.set_desc_table(vmm::GuestAddress(ring_shift));
  queue.set_avail_ring(vmm::GuestAddress(0x4000 + ring_shift));
  queue.set_used_ring(vmm::GuestAddress(0x5000 + ring_shift));
  if (!queue.enable(mem, features)) return 0;
  for (int round = 0; round < 2 * kQueueSize; ++round) {
    auto chain = queue.pop();
    if (!chain) break;
    uint64_t total = 0;
    while (auto d = chain->next()) {
      // Every buffer must be inside RAM: touch it to let ASan check.
      auto s = mem.span(d->addr, d->len);
      if (!s) __builtin_trap();
      if (d->len > 0) total += (*s)[0] + (*s)[d->len - 1];
    }
    (void)queue.add_used(chain->head_index(), static_cast<uint32_t>(total));
    (void)queue.needs_notification();
  }
  (void)queue.enable_notification();
  return 0;
}
