#pragma once
// The driver's side of a split virtqueue over an in-memory GuestMemory, for device tests:
// writes descriptors and the avail ring the way a guest driver would and reads back the used
// ring.
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "vmm/memory/guest_memory.hpp"
#include "vmm/virtio/queue.hpp"

namespace vmm::virtio::testing {

struct Buffer {
  uint64_t addr;
  uint32_t len;
  bool writable = false;
};

struct UsedElem {
  uint32_t id;
  uint32_t len;
};

class MockVirtqueue {
 public:
  // Places the descriptor table, avail ring and used ring back to back from `base`.
  MockVirtqueue(const GuestMemory& memory, GuestAddress base, uint16_t size);

  [[nodiscard]] uint16_t size() const noexcept { return size_; }
  [[nodiscard]] GuestAddress desc_table() const noexcept { return desc_; }
  [[nodiscard]] GuestAddress avail_ring() const noexcept { return avail_; }
  [[nodiscard]] GuestAddress used_ring() const noexcept { return used_; }
  // One past the last byte the rings use (with event fields).
  [[nodiscard]] GuestAddress end() const noexcept;

  // Copies size and ring addresses into a device-side queue (not enabled).
  void configure(Queue& queue) const;

  // Raw descriptor write into the ring's table, or into any table (indirect).
  void set_desc(uint16_t index, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next);
  void write_desc_at(GuestAddress table, uint16_t index, uint64_t addr, uint32_t len,
                     uint16_t flags, uint16_t next);

  // Writes `buffers` as one chain into free descriptors and publishes its head. Returns it.
  uint16_t add_chain(std::initializer_list<Buffer> buffers);
  // Writes `buffers` into an indirect table at `table` and publishes one descriptor naming it.
  uint16_t add_indirect_chain(GuestAddress table, std::initializer_list<Buffer> buffers);
  // Publishes `head` in the avail ring (increments avail idx).
  void publish(uint16_t head);

  [[nodiscard]] uint16_t avail_idx() const;
  void set_avail_idx(uint16_t idx);
  void set_avail_flags(uint16_t flags);
  void set_used_event(uint16_t idx);
  [[nodiscard]] uint16_t used_idx() const;
  [[nodiscard]] uint16_t used_flags() const;
  [[nodiscard]] uint16_t avail_event() const;
  // The used element written for the `n`-th used buffer (free-running index).
  [[nodiscard]] UsedElem used_elem(uint16_t n) const;

  // Starts handing out descriptors from `index` again (tests that reuse the table).
  void set_next_free_desc(uint16_t index) noexcept { next_free_ = index; }

 private:
  [[nodiscard]] uint16_t read_u16(GuestAddress a) const;
  void write_u16(GuestAddress a, uint16_t v) const;

  const GuestMemory& memory_;
  uint16_t size_;
  GuestAddress desc_;
  GuestAddress avail_;
  GuestAddress used_;
  uint16_t next_free_ = 0;
};

}  // namespace vmm::virtio::testing
