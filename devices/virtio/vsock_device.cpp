#include "vmm/virtio/vsock_device.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace vmm::virtio {

namespace {

// Transmit chains taken per notification before the loop serves its other work; the rest are
// taken on a self-notification, so a guest that keeps the queue full cannot hold the loop.
constexpr unsigned kTxBatch = 256;
// Warnings about guest misbehaviour: the first few, then one in this many.
constexpr uint64_t kWarnBurst = 16;
constexpr uint64_t kWarnEvery = 1024;

// Copies `out.size()` bytes from the start of the buffers.
bool read_prefix(const GuestMemory& memory, std::span<const Descriptor> buffers,
                 std::span<uint8_t> out) {
  for (const Descriptor& d : buffers) {
    if (out.empty()) break;
    const size_t n = std::min<size_t>(d.len, out.size());
    if (!memory.read(d.addr, out.first(n))) return false;
    out = out.subspan(n);
  }
  return out.empty();
}

// Host views of the buffers from byte `skip` on, `limit` bytes at most.
template <typename Span>
void spans_after(const GuestMemory& memory, std::span<const Descriptor> buffers, uint64_t skip,
                 uint64_t limit, std::vector<Span>& out) {
  out.clear();
  for (const Descriptor& d : buffers) {
    if (limit == 0) break;
    if (skip >= d.len) {
      skip -= d.len;
      continue;
    }
    const uint64_t n = std::min<uint64_t>(d.len - skip, limit);
    const auto s = memory.span(GuestAddress(d.addr.raw + skip), n);  // checked at pop
    if (!s) break;
    out.emplace_back(s->data(), s->size());
    limit -= n;
    skip = 0;
  }
}

}  // namespace

VirtioVsock::VirtioVsock(const VsockConfig& config, EventLoop& loop, const VsockLimits& limits)
    : QueueDevice(loop, "virtio-vsock " + config.socket.string(), 3), cid_(config.cid) {
  muxer_ = std::make_unique<VsockUnixMuxer>(config, loop, mutex(), counters_, limits,
                                            [this] { deliver_rx_locked(); });
}

VirtioVsock::~VirtioVsock() {
  reset();
  muxer_.reset();  // before the counters and the lock go
  spdlog::info("virtio-vsock cid {}: {} packets {} bytes to the guest, {} packets {} bytes from it",
               cid_, counters_.rx_packets.load(), counters_.rx_bytes.load(),
               counters_.tx_packets.load(), counters_.tx_bytes.load());
}

uint64_t VirtioVsock::features() const noexcept {
  return feature_bit(kFeatureVersion1) | feature_bit(kFeatureRingIndirectDesc) |
         feature_bit(kFeatureRingEventIdx);
}

void VirtioVsock::read_config(uint64_t offset, std::span<uint8_t> data) {
  // 5.10.4: le64 guest_cid, the upper 32 bits zero.
  std::array<uint8_t, 8> config{};
  const uint64_t cid = cid_;
  std::memcpy(config.data(), &cid, sizeof cid);
  read_config_bytes(config, offset, data);
}

void VirtioVsock::write_config(uint64_t /*offset*/, std::span<const uint8_t> /*data*/) {
  // guest_cid is read-only.
}

size_t VirtioVsock::connection_count() {
  size_t n = 0;
  loop().run_sync([this, &n] {
    std::lock_guard lock(mutex());
    n = muxer_->connection_count();
  });
  return n;
}

bool VirtioVsock::start_locked(const ActivateContext& context) {
  tx_kick_fd_ = context.queue_eventfds[kTxQueue];
  held_rx_.reset();
  return true;
}

void VirtioVsock::on_notify_locked(uint16_t queue) {
  if (queue == kTxQueue) drain_tx_locked();
  // New receive buffers, or what the transmitted packets left for the guest (a RESPONSE, an
  // RST, a credit update). The event queue's buffers stay with the device unused.
  if (queue != kEventQueue) deliver_rx_locked();
}

void VirtioVsock::quiesce() {
  // On the loop thread, where the muxer's handlers run: none runs meanwhile.
  loop().run_sync([this] {
    std::lock_guard lock(mutex());
    muxer_->reset();
  });
}

void VirtioVsock::stop_locked() {
  held_rx_.reset();
  tx_kick_fd_ = -1;
}

void VirtioVsock::warn_locked(const char* what) {
  const uint64_t n = warnings_++;
  if (n < kWarnBurst || n % kWarnEvery == 0) {
    spdlog::warn("{}: {} ({} warnings so far)", log_name(), what, n + 1);
  }
}

void VirtioVsock::handle_tx_packet_locked() {
  const uint32_t readable_len = tx_chain_.len;
  counters_.tx_packets.fetch_add(1, std::memory_order_relaxed);
  if (readable_len < kVsockHeaderSize) {
    counters_.short_packets.fetch_add(1, std::memory_order_relaxed);
    warn_locked("transmitted packet shorter than the vsock header; dropped");
    return;
  }
  std::array<uint8_t, kVsockHeaderSize> raw{};
  if (!read_prefix(*memory(), tx_chain_.buffers, raw)) return;  // checked at pop: cannot fail
  const VsockHeader h = decode_vsock_header(raw);
  const VsockPacketProblem problem = check_guest_packet(h, cid_, readable_len - kVsockHeaderSize);
  VsockCounters::Counter* counter = nullptr;
  bool answer = true;  // with an RST
  switch (problem) {
    case VsockPacketProblem::kNone:
      break;
    case VsockPacketProblem::kWrongSrcCid:
      counter = &counters_.bad_src_cid;
      answer = false;
      break;
    case VsockPacketProblem::kWrongDstCid:
      counter = &counters_.bad_dst_cid;
      answer = false;
      break;
    case VsockPacketProblem::kUnknownType:
      counter = &counters_.bad_type;
      break;
    case VsockPacketProblem::kUnknownOp:
      counter = &counters_.bad_op;
      break;
    case VsockPacketProblem::kLenBeyondBuffer:
      counter = &counters_.bad_len;
      break;
  }
  if (counter != nullptr) {
    counter->fetch_add(1, std::memory_order_relaxed);
    warn_locked(to_string(problem));
    if (answer) muxer_->refuse_guest_packet(h);
    return;
  }
  spans_after(*memory(), tx_chain_.buffers, kVsockHeaderSize, h.len, tx_payload_);
  muxer_->on_guest_packet(h, tx_payload_);
}

void VirtioVsock::drain_tx_locked() {
  if (!active_locked() || tx() == nullptr || tx()->broken()) return;
  bool used = false;
  unsigned taken = 0;
  do {
    tx()->disable_notification();
    while (taken < kTxBatch) {
      auto chain = tx()->pop();
      if (!chain) break;
      ++taken;
      if (!collect_buffers(*chain, /*writable=*/false, tx_chain_)) {
        fail_locked(*tx(), to_string(chain->error()));
        return;
      }
      handle_tx_packet_locked();
      tx()->add_used(chain->head_index(), 0);
      used = true;
    }
    if (tx()->broken()) {
      fail_locked(*tx(), "transmit queue index moved by more than its size");
      return;
    }
    if (taken == kTxBatch) {
      // More may wait: notify ourselves and let the loop serve the others first.
      const uint64_t one = 1;
      if (tx_kick_fd_ >= 0) (void)::write(tx_kick_fd_, &one, sizeof one);
      break;
    }
  } while (tx()->enable_notification());
  if (used) notify_used_locked(kTxQueue);
}

bool VirtioVsock::hold_rx_chain_locked(bool& used) {
  for (;;) {
    auto chain = rx()->pop();
    if (!chain) {
      if (rx()->broken()) {
        fail_locked(*rx(), "receive queue index moved by more than its size");
        return false;
      }
      if (rx()->enable_notification()) continue;  // buffers arrived meanwhile
      return false;
    }
    ChainBuffers held;
    if (!collect_buffers(*chain, /*writable=*/true, held)) {
      fail_locked(*rx(), to_string(chain->error()));
      return false;
    }
    if (held.len <= kVsockHeaderSize) {
      // No room for a header and a byte: give it back empty so the guest can recycle it.
      rx()->add_used(held.head, 0);
      used = true;
      counters_.short_rx_buffers.fetch_add(1, std::memory_order_relaxed);
      warn_locked("receive buffer too short for a vsock packet; returned unused");
      continue;
    }
    held_rx_ = std::move(held);
    return true;
  }
}

void VirtioVsock::deliver_rx_locked() {
  if (!active_locked() || rx() == nullptr || rx()->broken()) return;
  bool used = false;
  while (muxer_->has_pending_rx()) {
    if (!held_rx_ && !hold_rx_chain_locked(used)) break;
    const ChainBuffers& chain = *held_rx_;
    spans_after(*memory(), chain.buffers, kVsockHeaderSize, chain.len, rx_payload_);
    VsockHeader h;
    const std::optional<uint32_t> len = muxer_->fill_rx(h, rx_payload_);
    if (!len) break;  // nothing after all; the chain waits for the next packet
    const auto raw = encode_vsock_header(h);
    std::span<const uint8_t> rest(raw);
    for (const Descriptor& d : chain.buffers) {
      if (rest.empty()) break;
      const size_t n = std::min<size_t>(d.len, rest.size());
      if (!memory()->write(d.addr, rest.first(n))) break;  // checked at pop: cannot fail
      rest = rest.subspan(n);
    }
    rx()->add_used(chain.head, static_cast<uint32_t>(kVsockHeaderSize) + *len);
    held_rx_.reset();
    used = true;
  }
  if (used) notify_used_locked(kRxQueue);
}

}  // namespace vmm::virtio
