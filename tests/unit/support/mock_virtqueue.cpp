#include "mock_virtqueue.hpp"

#include <stdexcept>

#include "vmm/common/checked.hpp"
#include "vmm/virtio/virtio_spec.hpp"

namespace vmm::virtio::testing {

MockVirtqueue::MockVirtqueue(const GuestMemory& memory, GuestAddress base, uint16_t size)
    : memory_(memory), size_(size) {
  desc_ = base;
  avail_ = desc_ + kDescriptorSize * size;
  used_ = GuestAddress(
      align_up(avail_.raw + kRingHeaderSize + kAvailElemSize * size + kRingEventSize, 4));
  if (!memory.fill(desc_, end().raw - desc_.raw, 0)) {
    throw std::runtime_error("mock virtqueue does not fit in guest memory");
  }
}

GuestAddress MockVirtqueue::end() const noexcept {
  return used_ + (kRingHeaderSize + kUsedElemSize * size_ + kRingEventSize);
}

void MockVirtqueue::configure(Queue& queue) const {
  queue.set_size(size_);
  queue.set_desc_table(desc_);
  queue.set_avail_ring(avail_);
  queue.set_used_ring(used_);
}

void MockVirtqueue::write_desc_at(GuestAddress table, uint16_t index, uint64_t addr, uint32_t len,
                                  uint16_t flags, uint16_t next) {
  const GuestAddress d = table + uint64_t{index} * kDescriptorSize;
  if (!memory_.write_obj(d, addr) || !memory_.write_obj(d + 8, len) ||
      !memory_.write_obj(d + 12, flags) || !memory_.write_obj(d + 14, next)) {
    throw std::runtime_error("descriptor outside guest memory");
  }
}

void MockVirtqueue::set_desc(uint16_t index, uint64_t addr, uint32_t len, uint16_t flags,
                             uint16_t next) {
  write_desc_at(desc_, index, addr, len, flags, next);
}

uint16_t MockVirtqueue::add_chain(std::initializer_list<Buffer> buffers) {
  const uint16_t head = next_free_;
  size_t i = 0;
  for (const auto& b : buffers) {
    const uint16_t index = next_free_;
    next_free_ = static_cast<uint16_t>((next_free_ + 1) % size_);
    const bool last = ++i == buffers.size();
    const auto flags =
        static_cast<uint16_t>((b.writable ? kDescFlagWrite : 0) | (last ? 0 : kDescFlagNext));
    set_desc(index, b.addr, b.len, flags, last ? 0 : next_free_);
  }
  publish(head);
  return head;
}

uint16_t MockVirtqueue::add_indirect_chain(GuestAddress table,
                                           std::initializer_list<Buffer> buffers) {
  uint16_t i = 0;
  for (const auto& b : buffers) {
    const bool last = static_cast<size_t>(i) + 1 == buffers.size();
    const auto flags =
        static_cast<uint16_t>((b.writable ? kDescFlagWrite : 0) | (last ? 0 : kDescFlagNext));
    write_desc_at(table, i, b.addr, b.len, flags, static_cast<uint16_t>(last ? 0 : i + 1));
    ++i;
  }
  const uint16_t head = next_free_;
  next_free_ = static_cast<uint16_t>((next_free_ + 1) % size_);
  set_desc(head, table.raw, static_cast<uint32_t>(buffers.size() * kDescriptorSize),
           kDescFlagIndirect, 0);
  publish(head);
  return head;
}

void MockVirtqueue::publish(uint16_t head) {
  const uint16_t idx = avail_idx();
  write_u16(avail_ + kRingHeaderSize + kAvailElemSize * (idx % size_), head);
  set_avail_idx(static_cast<uint16_t>(idx + 1));
}

uint16_t MockVirtqueue::read_u16(GuestAddress a) const {
  auto v = memory_.read_obj<uint16_t>(a);
  if (!v) throw std::runtime_error("ring read outside guest memory");
  return *v;
}
void MockVirtqueue::write_u16(GuestAddress a, uint16_t v) const {
  if (!memory_.write_obj(a, v)) throw std::runtime_error("ring write outside guest memory");
}

uint16_t MockVirtqueue::avail_idx() const { return read_u16(avail_ + 2); }
void MockVirtqueue::set_avail_idx(uint16_t idx) { write_u16(avail_ + 2, idx); }
void MockVirtqueue::set_avail_flags(uint16_t flags) { write_u16(avail_, flags); }
void MockVirtqueue::set_used_event(uint16_t idx) {
  write_u16(avail_ + kRingHeaderSize + kAvailElemSize * size_, idx);
}
uint16_t MockVirtqueue::used_idx() const { return read_u16(used_ + 2); }
uint16_t MockVirtqueue::used_flags() const { return read_u16(used_); }
uint16_t MockVirtqueue::avail_event() const {
  return read_u16(used_ + kRingHeaderSize + kUsedElemSize * size_);
}

UsedElem MockVirtqueue::used_elem(uint16_t n) const {
  const GuestAddress e = used_ + kRingHeaderSize + kUsedElemSize * (n % size_);
  auto id = memory_.read_obj<uint32_t>(e);
  auto len = memory_.read_obj<uint32_t>(e + 4);
  if (!id || !len) throw std::runtime_error("used ring outside guest memory");
  return {*id, *len};
}

}  // namespace vmm::virtio::testing
