#include "vmm/virtio/queue.hpp"

#include <atomic>
#include <bit>
#include <cstring>

#include "vmm/common/checked.hpp"
#include "vmm/virtio/virtio_spec.hpp"

namespace vmm::virtio {

static_assert(std::endian::native == std::endian::little,
              "virtio 1.x rings are little-endian; this code reads them natively");

namespace {

struct RawDescriptor {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
static_assert(sizeof(RawDescriptor) == kDescriptorSize);

// Ring index fields are shared with vCPUs; access them as atomics. Alignment of the rings is
// checked in enable(), and host mappings are page-aligned, so these addresses are aligned.
uint16_t load_u16(const uint8_t* p, std::memory_order order) noexcept {
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  return std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(const_cast<uint8_t*>(p)))
      .load(order);
}
void store_u16(uint8_t* p, uint16_t v, std::memory_order order) noexcept {
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  std::atomic_ref<uint16_t>(*reinterpret_cast<uint16_t*>(p)).store(v, order);
}
void store_u32(uint8_t* p, uint32_t v, std::memory_order order) noexcept {
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  std::atomic_ref<uint32_t>(*reinterpret_cast<uint32_t*>(p)).store(v, order);
}

// Offsets inside the rings (2.7.6, 2.7.8).
constexpr uint64_t kRingFlagsOffset = 0;
constexpr uint64_t kRingIdxOffset = 2;
constexpr uint64_t kRingEntriesOffset = kRingHeaderSize;

}  // namespace

bool collect_buffers(DescriptorChain& chain, bool writable, ChainBuffers& out) {
  out.head = chain.head_index();
  out.buffers.clear();
  while (auto d = chain.next()) {
    if (d->device_writable == writable && d->len > 0) out.buffers.push_back(*d);
  }
  out.len = writable ? chain.writable_len() : chain.readable_len();
  return chain.error() == ChainError::kNone;
}

const char* to_string(ChainError error) noexcept {
  switch (error) {
    case ChainError::kNone:
      return "no error";
    case ChainError::kIndexOutOfRange:
      return "descriptor index out of range";
    case ChainError::kTooLong:
      return "descriptor chain longer than its table (loop)";
    case ChainError::kBufferOutsideRam:
      return "buffer outside guest RAM";
    case ChainError::kIndirectNotNegotiated:
      return "indirect descriptor not negotiated";
    case ChainError::kBadIndirectTable:
      return "malformed indirect table";
    case ChainError::kNestedIndirect:
      return "indirect descriptor inside an indirect table";
    case ChainError::kLengthOverflow:
      return "chain length overflows 32 bits";
    case ChainError::kReadableAfterWritable:
      return "device-readable buffer after a writable one";
  }
  return "unknown chain error";
}

DescriptorChain::DescriptorChain(const GuestMemory& memory, GuestAddress table, uint16_t table_size,
                                 uint16_t head, bool indirect_allowed) noexcept
    : memory_(&memory),
      table_(table),
      table_size_(table_size),
      next_index_(head),
      budget_(table_size),
      head_(head),
      indirect_allowed_(indirect_allowed) {}

std::optional<Descriptor> DescriptorChain::fail(ChainError error) noexcept {
  error_ = error;
  has_next_ = false;
  return std::nullopt;
}

std::optional<Descriptor> DescriptorChain::next() noexcept {
  if (!has_next_) return std::nullopt;
  for (;;) {
    if (next_index_ >= table_size_) return fail(ChainError::kIndexOutOfRange);
    if (budget_ == 0) return fail(ChainError::kTooLong);
    --budget_;
    // Copy the descriptor once; all checks below run on the copy.
    auto raw = memory_->read_obj<RawDescriptor>(table_ + uint64_t{next_index_} * kDescriptorSize);
    if (!raw) return fail(ChainError::kBufferOutsideRam);

    if ((raw->flags & kDescFlagIndirect) != 0) {
      if (!indirect_allowed_) return fail(ChainError::kIndirectNotNegotiated);
      if (in_indirect_) return fail(ChainError::kNestedIndirect);
      const uint64_t entries = raw->len / kDescriptorSize;
      if ((raw->flags & kDescFlagNext) != 0 || raw->len == 0 || raw->len % kDescriptorSize != 0 ||
          entries > kMaxQueueSize || !memory_->contains(GuestAddress(raw->addr), raw->len)) {
        return fail(ChainError::kBadIndirectTable);
      }
      // The write flag of the descriptor naming the table is ignored (2.7.5.3.2).
      in_indirect_ = true;
      table_ = GuestAddress(raw->addr);
      table_size_ = static_cast<uint32_t>(entries);
      budget_ = table_size_;
      next_index_ = 0;
      continue;
    }

    const bool writable = (raw->flags & kDescFlagWrite) != 0;
    if (!writable && seen_writable_) return fail(ChainError::kReadableAfterWritable);
    if (!memory_->contains(GuestAddress(raw->addr), raw->len)) {
      return fail(ChainError::kBufferOutsideRam);
    }
    const uint64_t total = uint64_t{readable_len_} + writable_len_ + raw->len;
    if (total > UINT32_MAX) return fail(ChainError::kLengthOverflow);
    if (writable) {
      seen_writable_ = true;
      writable_len_ += raw->len;
    } else {
      readable_len_ += raw->len;
    }
    if ((raw->flags & kDescFlagNext) != 0) {
      next_index_ = raw->next;
    } else {
      has_next_ = false;
    }
    return Descriptor{GuestAddress(raw->addr), raw->len, writable};
  }
}

Queue::Queue(uint16_t max_size) noexcept : max_size_(max_size), size_(max_size) {}

bool Queue::enable(const GuestMemory& memory, uint64_t features) noexcept {
  if (size_ == 0 || size_ > max_size_ || !std::has_single_bit(size_)) return false;
  const bool event_idx = (features & feature_bit(kFeatureRingEventIdx)) != 0;
  const uint64_t event_len = event_idx ? kRingEventSize : 0;
  const uint64_t desc_len = kDescriptorSize * size_;
  const uint64_t avail_len = kRingHeaderSize + kAvailElemSize * size_ + event_len;
  const uint64_t used_len = kRingHeaderSize + kUsedElemSize * size_ + event_len;
  if (desc_table_.raw % kDescTableAlign != 0 || avail_ring_.raw % kAvailRingAlign != 0 ||
      used_ring_.raw % kUsedRingAlign != 0) {
    return false;
  }
  auto desc = memory.span(desc_table_, desc_len);
  auto avail = memory.span(avail_ring_, avail_len);
  auto used = memory.span(used_ring_, used_len);
  if (!desc || !avail || !used) return false;

  memory_ = &memory;
  avail_host_ = avail->data();
  used_host_ = used->data();
  event_idx_ = event_idx;
  indirect_ = (features & feature_bit(kFeatureRingIndirectDesc)) != 0;
  broken_ = false;
  next_avail_ = 0;
  next_used_ = 0;
  signalled_used_ = 0;
  signalled_used_valid_ = false;
  return true;
}

void Queue::reset() noexcept { *this = Queue(max_size_); }

uint16_t Queue::load_avail_idx() const noexcept {
  return load_u16(avail_host_ + kRingIdxOffset, std::memory_order_acquire);
}

std::optional<DescriptorChain> Queue::pop() noexcept {
  if (!ready() || broken_) return std::nullopt;
  // Acquire: ring entries and descriptors written before the idx update are visible.
  const uint16_t avail_idx = load_avail_idx();
  const auto pending = static_cast<uint16_t>(avail_idx - next_avail_);
  if (pending == 0) return std::nullopt;
  if (pending > size_) {
    broken_ = true;
    return std::nullopt;
  }
  const uint16_t slot = next_avail_ & static_cast<uint16_t>(size_ - 1);
  const uint16_t head =
      load_u16(avail_host_ + kRingEntriesOffset + kAvailElemSize * slot, std::memory_order_relaxed);
  ++next_avail_;
  return DescriptorChain(*memory_, desc_table_, size_, head, indirect_);
}

bool Queue::add_used(uint16_t head, uint32_t len) noexcept {
  if (!ready() || broken_ || head >= size_) return false;
  const uint16_t slot = next_used_ & static_cast<uint16_t>(size_ - 1);
  uint8_t* elem = used_host_ + kRingEntriesOffset + kUsedElemSize * slot;
  store_u32(elem, head, std::memory_order_relaxed);
  store_u32(elem + 4, len, std::memory_order_relaxed);
  ++next_used_;
  // Release: the element is visible before the driver sees the new idx.
  store_u16(used_host_ + kRingIdxOffset, next_used_, std::memory_order_release);
  return true;
}

bool Queue::needs_notification() noexcept {
  if (!ready()) return false;
  // The used idx store must be visible before we read the driver's suppression fields, or
  // driver and device can both decide the other one will act (2.7.10).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!event_idx_) {
    const uint16_t flags = load_u16(avail_host_ + kRingFlagsOffset, std::memory_order_relaxed);
    return (flags & kAvailFlagNoInterrupt) == 0;
  }
  const uint16_t used_event = load_u16(avail_host_ + kRingEntriesOffset + kAvailElemSize * size_,
                                       std::memory_order_relaxed);
  const uint16_t old_idx = signalled_used_;
  const bool was_valid = signalled_used_valid_;
  signalled_used_ = next_used_;
  signalled_used_valid_ = true;
  if (!was_valid) return true;
  return vring_need_event(used_event, next_used_, old_idx);
}

void Queue::disable_notification() noexcept {
  if (!ready() || event_idx_) return;  // with EVENT_IDX, a stale avail_event suppresses kicks
  store_u16(used_host_ + kRingFlagsOffset, kUsedFlagNoNotify, std::memory_order_relaxed);
}

bool Queue::enable_notification() noexcept {
  if (!ready() || broken_) return false;
  if (event_idx_) {
    store_u16(used_host_ + kRingEntriesOffset + kUsedElemSize * size_, next_avail_,
              std::memory_order_relaxed);
  } else {
    store_u16(used_host_ + kRingFlagsOffset, 0, std::memory_order_relaxed);
  }
  // Publish the request before re-checking avail idx, so a concurrent driver update is either
  // seen here or kicks us (2.7.10).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return load_avail_idx() != next_avail_;
}

}  // namespace vmm::virtio
