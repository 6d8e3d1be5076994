#pragma once
// A split virtqueue (virtio 1.2, 2.7) as the device sees it. The three rings live in guest RAM
// that vCPUs write concurrently, so the index fields are accessed atomically with the ordering
// the specification prescribes, and every other value the guest controls is copied once and
// then checked before use.
//
// Not thread-safe: a device serialises all calls on one queue. Configuration (size, addresses)
// comes from the transport before the queue is enabled; after that only the device touches it.
#include <cstdint>
#include <optional>
#include <vector>

#include "vmm/memory/guest_address.hpp"
#include "vmm/memory/guest_memory.hpp"

namespace vmm::virtio {

// One guest buffer of a descriptor chain, already checked to lie wholly inside guest RAM.
struct Descriptor {
  GuestAddress addr;
  uint32_t len = 0;
  bool device_writable = false;
};

// Why a descriptor chain was refused. A chain with an error must not be processed further;
// the device completes it with an error status or sets DEVICE_NEEDS_RESET.
enum class ChainError : uint8_t {
  kNone,
  kIndexOutOfRange,        // head or NEXT index outside the queue (or indirect table)
  kTooLong,                // more descriptors than the table holds: a loop
  kBufferOutsideRam,       // addr+len not wholly inside one guest RAM region
  kIndirectNotNegotiated,  // INDIRECT flag without VIRTIO_F_RING_INDIRECT_DESC
  kBadIndirectTable,       // empty, not a multiple of 16, outside RAM, or INDIRECT|NEXT
  kNestedIndirect,         // an indirect descriptor inside an indirect table
  kLengthOverflow,         // the chain's total length does not fit in 32 bits
  kReadableAfterWritable,  // device-readable buffers must all come before writable ones
};

[[nodiscard]] const char* to_string(ChainError error) noexcept;

// Walks one descriptor chain. Allocation-free; each call to next() reads one descriptor from
// guest memory, so a guest rewriting the table meanwhile can only make the walk fail.
class DescriptorChain final {
 public:
  // The next buffer; nullopt at the end of the chain or on an error (then error() says which).
  [[nodiscard]] std::optional<Descriptor> next() noexcept;

  [[nodiscard]] ChainError error() const noexcept { return error_; }
  [[nodiscard]] uint16_t head_index() const noexcept { return head_; }
  [[nodiscard]] const GuestMemory& memory() const noexcept { return *memory_; }
  // Sums over the buffers returned so far.
  [[nodiscard]] uint32_t readable_len() const noexcept { return readable_len_; }
  [[nodiscard]] uint32_t writable_len() const noexcept { return writable_len_; }

  // For tests and fuzzers: a chain over an arbitrary descriptor table.
  DescriptorChain(const GuestMemory& memory, GuestAddress table, uint16_t table_size, uint16_t head,
                  bool indirect_allowed) noexcept;

 private:
  std::optional<Descriptor> fail(ChainError error) noexcept;

  const GuestMemory* memory_;
  GuestAddress table_;
  uint32_t table_size_;
  uint32_t next_index_;
  uint32_t budget_;  // descriptors left before the walk counts as a loop
  uint32_t readable_len_ = 0;
  uint32_t writable_len_ = 0;
  uint16_t head_;
  bool indirect_allowed_;
  bool in_indirect_ = false;
  bool has_next_ = true;
  bool seen_writable_ = false;
  ChainError error_ = ChainError::kNone;
};

// One direction of a descriptor chain, gathered by walking it once: for devices that hold a
// chain for later, or read and write its buffers in pieces.
struct ChainBuffers {
  uint16_t head = 0;
  uint32_t len = 0;                 // the buffers' total length
  std::vector<Descriptor> buffers;  // in chain order, none of length 0
};

// Walks `chain` to its end and keeps its device-writable buffers (`writable`) or its
// device-readable ones in `out` (whose vector is reused). False when the walk failed:
// chain.error() says why.
[[nodiscard]] bool collect_buffers(DescriptorChain& chain, bool writable, ChainBuffers& out);

class Queue final {
 public:
  explicit Queue(uint16_t max_size) noexcept;

  // --- Transport side: driver configuration, only while the queue is not enabled. ---
  [[nodiscard]] uint16_t max_size() const noexcept { return max_size_; }
  [[nodiscard]] uint16_t size() const noexcept { return size_; }
  void set_size(uint16_t size) noexcept { size_ = size; }  // checked by enable()
  [[nodiscard]] GuestAddress desc_table() const noexcept { return desc_table_; }
  [[nodiscard]] GuestAddress avail_ring() const noexcept { return avail_ring_; }
  [[nodiscard]] GuestAddress used_ring() const noexcept { return used_ring_; }
  void set_desc_table(GuestAddress a) noexcept { desc_table_ = a; }
  void set_avail_ring(GuestAddress a) noexcept { avail_ring_ = a; }
  void set_used_ring(GuestAddress a) noexcept { used_ring_ = a; }

  // The driver set queue_ready. Checks that the size is a power of two no larger than
  // max_size() and that all three rings (with their event fields when EVENT_IDX is among
  // `features`) lie wholly inside guest RAM with the spec's alignment. False: the queue stays
  // disabled and the transport must set DEVICE_NEEDS_RESET. `memory` must outlive the enabled
  // period (until reset()).
  [[nodiscard]] bool enable(const GuestMemory& memory, uint64_t features) noexcept;
  [[nodiscard]] bool ready() const noexcept { return memory_ != nullptr; }
  // Back to the power-on state: disabled, size = max_size, addresses 0, indices 0.
  void reset() noexcept;

  // --- Device side. ---
  // The next available chain; nullopt when there is none or the queue is broken.
  [[nodiscard]] std::optional<DescriptorChain> pop() noexcept;
  // Gives a chain back to the driver (release ordering on used idx). False when broken or
  // `head` is not a valid descriptor index.
  bool add_used(uint16_t head, uint32_t len) noexcept;
  // After one or more add_used(): whether the driver wants an interrupt now (honours
  // VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX: vring_need_event).
  [[nodiscard]] bool needs_notification() noexcept;
  // Kick suppression while the device is busy draining the queue anyway.
  void disable_notification() noexcept;
  // Asks for kicks again; true when more chains arrived meanwhile (drain again before
  // sleeping, or a kick is lost).
  [[nodiscard]] bool enable_notification() noexcept;

  // The guest broke the protocol (avail idx moved by more than the queue size). The device
  // must set DEVICE_NEEDS_RESET; the queue does nothing until reset().
  [[nodiscard]] bool broken() const noexcept { return broken_; }
  void mark_broken() noexcept { broken_ = true; }

  [[nodiscard]] uint16_t next_avail() const noexcept { return next_avail_; }
  [[nodiscard]] uint16_t next_used() const noexcept { return next_used_; }
  [[nodiscard]] bool event_idx() const noexcept { return event_idx_; }

 private:
  [[nodiscard]] uint16_t load_avail_idx() const noexcept;

  uint16_t max_size_;
  uint16_t size_;
  GuestAddress desc_table_;
  GuestAddress avail_ring_;
  GuestAddress used_ring_;

  // Set by enable(): host views of the validated rings. Guest RAM mappings live as long as
  // the VM, so caching them after the one-time check is safe.
  const GuestMemory* memory_ = nullptr;
  uint8_t* avail_host_ = nullptr;
  uint8_t* used_host_ = nullptr;
  bool event_idx_ = false;
  bool indirect_ = false;
  bool broken_ = false;
  uint16_t next_avail_ = 0;
  uint16_t next_used_ = 0;
  uint16_t signalled_used_ = 0;
  bool signalled_used_valid_ = false;
};

// vring_need_event from the specification: whether moving used idx from `old_idx` to
// `new_idx` passes `event_idx` (all modulo 2^16).
[[nodiscard]] constexpr bool vring_need_event(uint16_t event_idx, uint16_t new_idx,
                                              uint16_t old_idx) noexcept {
  return static_cast<uint16_t>(new_idx - event_idx - 1) < static_cast<uint16_t>(new_idx - old_idx);
}

}  // namespace vmm::virtio
