// Fuzzes the virtio-blk request parser over chains walked from fuzzer-controlled guest RAM.
// Checks the parser's promises: data and status pointers lie inside guest RAM, the data
// length matches the segments, and sector ranges it accepts are inside the disk.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "vmm/memory/guest_memory.hpp"
#include "vmm/virtio/block_request.hpp"
#include "vmm/virtio/queue.hpp"
#include "vmm/virtio/virtio_spec.hpp"

namespace {

constexpr uint64_t kRamSize = 64 * 1024;

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vmm::virtio;
  const auto& mem = memory();
  if (size < 3) return 0;
  BlkDiskLimits limits;
  limits.capacity_sectors = 1 + data[0] * 64ULL;
  limits.read_only = (data[1] & 1) != 0;
  limits.discard = (data[1] & 2) != 0;
  limits.write_zeroes = (data[1] & 4) != 0;
  limits.max_discard_sectors = 128;
  limits.max_write_zeroes_sectors = 128;
  const uint16_t head = data[2] % 32;
  std::memset(mem.span(vmm::GuestAddress(0), kRamSize)->data(), 0, kRamSize);
  (void)mem.write(vmm::GuestAddress(0), std::span(data + 3, std::min<size_t>(size - 3, kRamSize)));

  DescriptorChain chain(mem, vmm::GuestAddress(0), 32, head, (data[1] & 8) != 0);
  static BlkRequest req;
  const BlkParseResult r = parse_block_request(chain, limits, req);
  if (r != BlkParseResult::kMalformed && !inside_ram(req.status, 1)) __builtin_trap();
  if (r != BlkParseResult::kOk) return 0;
  uint64_t len = 0;
  for (size_t i = 0; i < req.data_count; ++i) {
    if (!inside_ram(req.data[i].iov_base, req.data[i].iov_len)) __builtin_trap();
    len += req.data[i].iov_len;
  }
  if (len != req.data_len) __builtin_trap();
  if (req.type == kBlkTypeIn || req.type == kBlkTypeOut) {
    if (len % kSectorSize != 0 || req.sector > limits.capacity_sectors ||
        (len >> kSectorShift) > limits.capacity_sectors - req.sector) {
      __builtin_trap();
    }
  }
  for (size_t i = 0; i < req.range_count; ++i) {
    const auto& rg = req.ranges[i];
    if (rg.sector > limits.capacity_sectors ||
        rg.num_sectors > limits.capacity_sectors - rg.sector) {
      __builtin_trap();
    }
  }
  return 0;
}
