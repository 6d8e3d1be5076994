#include "vmm/virtio/net_device.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

#include "vmm/virtio/net_config_space.hpp"

namespace vmm::virtio {

namespace {

// Ethernet header plus one VLAN tag: the largest frame an MTU-sized packet makes.
constexpr size_t kEthernetOverhead = 18;
// Warnings about guest or backend misbehaviour: the first few, then one in this many.
constexpr uint64_t kWarnBurst = 16;
constexpr uint64_t kWarnEvery = 1024;

bool has(uint64_t features, unsigned bit) { return (features & feature_bit(bit)) != 0; }

}  // namespace

namespace {

std::vector<std::unique_ptr<NetBackend>> one_backend(std::unique_ptr<NetBackend> backend) {
  std::vector<std::unique_ptr<NetBackend>> v;
  v.push_back(std::move(backend));
  return v;
}

// Receive and transmit queue of each pair, and a control queue when there are several.
uint16_t queue_count(const std::vector<std::unique_ptr<NetBackend>>& backends) {
  if (backends.empty() || backends.size() > kNetMaxQueuePairs) {
    throw std::invalid_argument("virtio-net: 1 to " + std::to_string(kNetMaxQueuePairs) +
                                " queue pairs");
  }
  return static_cast<uint16_t>(backends.size() == 1 ? 2 : 2 * backends.size() + 1);
}

}  // namespace

VirtioNet::VirtioNet(std::unique_ptr<NetBackend> backend, const MacAddress& mac, EventLoop& loop,
                     uint16_t mtu)
    : VirtioNet(one_backend(std::move(backend)), mac, loop, mtu) {}

VirtioNet::VirtioNet(std::vector<std::unique_ptr<NetBackend>> backends, const MacAddress& mac,
                     EventLoop& loop, uint16_t mtu)
    : QueueDevice(loop, "virtio-net " + (backends.empty() ? "" : backends.front()->describe()),
                  queue_count(backends)),
      mac_(mac),
      mtu_(mtu),
      queue_sizes_(queue_count(backends), kQueueSize) {
  features_ = feature_bit(kFeatureVersion1) | feature_bit(kFeatureRingIndirectDesc) |
              feature_bit(kFeatureRingEventIdx) | feature_bit(kNetFeatureMac) |
              feature_bit(kNetFeatureStatus) | feature_bit(kNetFeatureMtu) |
              feature_bit(kNetFeatureMrgRxbuf);
  if (backends.front()->supports_offloads()) {
    for (const unsigned bit :
         {kNetFeatureCsum, kNetFeatureGuestCsum, kNetFeatureHostTso4, kNetFeatureHostTso6,
          kNetFeatureGuestTso4, kNetFeatureGuestTso6, kNetFeatureHostUfo, kNetFeatureGuestUfo}) {
      features_ |= feature_bit(bit);
    }
  }
  if (backends.size() > 1) {
    for (const unsigned bit :
         {kNetFeatureCtrlVq, kNetFeatureCtrlRx, kNetFeatureMq, kNetFeatureCtrlMacAddr}) {
      features_ |= feature_bit(bit);
    }
  }
  pairs_.resize(backends.size());
  for (size_t i = 0; i < backends.size(); ++i) {
    pairs_[i].backend = std::move(backends[i]);
    // One spare byte: a packet longer than the largest is recognised.
    pairs_[i].rx_packet.resize(kNetMaxPacketSize + 1);
  }
}

VirtioNet::~VirtioNet() {
  reset();
  const NetCounters c = counters();
  spdlog::info(
      "virtio-net {}: rx {} packets {} bytes {} dropped, tx {} packets {} bytes {} dropped",
      pairs_.front().backend->describe(), c.rx_packets, c.rx_bytes, c.rx_drops, c.tx_packets,
      c.tx_bytes, c.tx_drops);
}

NetCounters VirtioNet::counters() const noexcept {
  return NetCounters{rx_packets_.load(), rx_bytes_.load(), rx_drops_.load(),
                     tx_packets_.load(), tx_bytes_.load(), tx_drops_.load()};
}

DeviceCounters VirtioNet::named_counters() const {
  const NetCounters c = counters();
  return {{"rx_packets", c.rx_packets}, {"rx_bytes", c.rx_bytes}, {"rx_drops", c.rx_drops},
          {"tx_packets", c.tx_packets}, {"tx_bytes", c.tx_bytes}, {"tx_drops", c.tx_drops}};
}

NetControlState VirtioNet::control_state() {
  std::lock_guard lock(mutex());
  return control_;
}

void VirtioNet::read_config(uint64_t offset, std::span<uint8_t> data) {
  read_net_config(mac_, max_queue_pairs(), mtu_, offset, data);
}

void VirtioNet::write_config(uint64_t /*offset*/, std::span<const uint8_t> /*data*/) {
  // With VERSION_1 the MAC is read-only (a driver changes it through the control queue).
}

void VirtioNet::drop(std::atomic<uint64_t>& counter, const char* what) {
  counter.fetch_add(1, std::memory_order_relaxed);
  const uint64_t n = warnings_.fetch_add(1, std::memory_order_relaxed);
  if (n < kWarnBurst || n % kWarnEvery == 0) {
    spdlog::warn("{}: {}; packet dropped ({} warnings so far)", log_name(), what, n + 1);
  }
}

bool VirtioNet::start_locked(const ActivateContext& context) {
  const uint64_t f = context.features;
  const bool guest_gso =
      has(f, kNetFeatureGuestTso4) || has(f, kNetFeatureGuestTso6) || has(f, kNetFeatureGuestUfo);
  mergeable_ = has(f, kNetFeatureMrgRxbuf);
  max_rx_packet_ = guest_gso ? kNetMaxPacketSize : kVirtioNetHdrSize + mtu_ + kEthernetOverhead;
  for (Pair& p : pairs_) {
    p.rx_pending = 0;
    p.rx_chains.clear();
  }
  control_ = NetControlState{};  // pair 0 only until the driver enables more (5.1.6.5.5)
  return true;
}

void VirtioNet::start_host(const ActivateContext& context) {
  const uint64_t f = context.features;
  const NetOffloads offloads = offloads_for(f);
  for (size_t i = 0; i < pairs_.size(); ++i) {
    NetBackend& backend = *pairs_[i].backend;
    backend.set_offloads(offloads);
    backend.set_queue_active(i == 0);
    backend.start(loop(), [this, i] { on_backend_readable(i); });
  }
  backends_started_ = true;
}

void VirtioNet::on_notify_locked(uint16_t queue) {
  if (multi_queue() && queue == control_queue()) {
    handle_control_locked();
    return;
  }
  const size_t pair = queue / 2;
  if (pair >= pairs_.size()) return;
  if (queue % 2 == 1) {
    drain_tx_locked(pair);
  } else if (pair < control_.queue_pairs) {
    deliver_rx_locked(pair);  // new buffers: resumes reading a backend that was held back
  }
}

void VirtioNet::quiesce() {
  if (backends_started_) {
    for (Pair& p : pairs_) p.backend->stop();
    backends_started_ = false;
  }
}

void VirtioNet::stop_locked() {
  for (Pair& p : pairs_) {
    p.rx_chains.clear();
    if (p.rx_pending != 0) rx_drops_.fetch_add(1, std::memory_order_relaxed);
    p.rx_pending = 0;
  }
}

void VirtioNet::on_backend_readable(size_t pair) {
  std::lock_guard lock(mutex());
  if (pair < control_.queue_pairs) deliver_rx_locked(pair);
}

bool VirtioNet::gather_rx_chains_locked(size_t pair, size_t needed) {
  Pair& p = pairs_[pair];
  Queue& q = *rx(pair);
  for (;;) {
    size_t have = 0;
    for (const ChainBuffers& c : p.rx_chains) {
      have += c.len;
      if (!mergeable_) break;  // the packet must fit in one chain
    }
    if (!p.rx_chains.empty() && have >= needed) return true;
    if (!mergeable_ && !p.rx_chains.empty()) return false;
    if (p.rx_chains.size() >= q.size()) return false;  // every buffer held: too large
    auto chain = q.pop();
    if (!chain) return false;
    ChainBuffers held;
    if (!collect_buffers(*chain, /*writable=*/true, held)) {
      fail_locked(q, to_string(chain->error()));
      return false;
    }
    if (held.len < kVirtioNetHdrSize) {
      // Unusable: give it back empty so the guest can see and recycle it.
      q.add_used(held.head, 0);
      drop(rx_drops_, "receive buffer shorter than the virtio-net header");
      notify_used_locked(static_cast<uint16_t>(2 * pair));
      continue;
    }
    p.rx_chains.push_back(std::move(held));
  }
}

bool VirtioNet::map_rx_chains_locked(Pair& p) const {
  p.rx_segments.clear();
  size_t left = max_rx_packet_;
  for (const ChainBuffers& c : p.rx_chains) {
    for (const Descriptor& d : c.buffers) {
      if (left == 0) break;
      if (p.rx_segments.size() + 1 >= kNetMaxSegments) return false;  // room for the spare
      const size_t n = std::min<size_t>(d.len, left);
      const auto host = memory()->span(d.addr, n);
      if (!host) return false;  // checked when popped: cannot happen
      p.rx_segments.push_back(iovec{host->data(), n});
      left -= n;
    }
    if (left == 0 || !mergeable_) break;
  }
  if (left != 0) return false;
  // One host byte past the largest acceptable packet: a frame reaching it is too large.
  p.rx_segments.push_back(iovec{p.rx_spare.data(), p.rx_spare.size()});
  return true;
}

size_t VirtioNet::chains_for_locked(const Pair& p, size_t len) const {
  if (!mergeable_) return 1;
  size_t chains = 0;
  for (size_t have = 0; have < len; have += p.rx_chains[chains++].len) {
  }
  return chains;
}

bool VirtioNet::write_chain_bytes_locked(const ChainBuffers& chain, size_t offset,
                                         std::span<const uint8_t> bytes) const {
  for (const Descriptor& d : chain.buffers) {
    if (bytes.empty()) return true;
    if (offset >= d.len) {
      offset -= d.len;
      continue;
    }
    const size_t n = std::min<size_t>(d.len - offset, bytes.size());
    if (!memory()->write(GuestAddress(d.addr.raw + offset), bytes.first(n))) return false;
    bytes = bytes.subspan(n);
    offset = 0;
  }
  return bytes.empty();
}

void VirtioNet::complete_rx_chains_locked(size_t pair, size_t chains, size_t len) {
  Pair& p = pairs_[pair];
  const auto count = static_cast<uint16_t>(chains);
  std::array<uint8_t, sizeof count> num_buffers{};
  std::memcpy(num_buffers.data(), &count, sizeof count);
  // The header lies in the first chain, which is at least header-sized (checked at pop).
  (void)write_chain_bytes_locked(p.rx_chains.front(), kNetHdrNumBuffersOffset, num_buffers);
  size_t left = len;
  for (size_t i = 0; i < chains; ++i) {
    const size_t used = std::min<size_t>(p.rx_chains[i].len, left);
    rx(pair)->add_used(p.rx_chains[i].head, static_cast<uint32_t>(used));
    left -= used;
  }
  p.rx_chains.erase(p.rx_chains.begin(), p.rx_chains.begin() + static_cast<long>(chains));
  rx_packets_.fetch_add(1, std::memory_order_relaxed);
  rx_bytes_.fetch_add(len - kVirtioNetHdrSize, std::memory_order_relaxed);
}

void VirtioNet::write_pending_packet_locked(size_t pair, size_t chains) {
  const Pair& p = pairs_[pair];
  std::span<const uint8_t> rest(p.rx_packet.data(), p.rx_pending);
  for (size_t i = 0; i < chains; ++i) {
    for (const Descriptor& d : p.rx_chains[i].buffers) {
      if (rest.empty()) break;
      const size_t n = std::min<size_t>(d.len, rest.size());
      if (!memory()->write(d.addr, rest.first(n))) break;  // checked at pop: cannot fail
      rest = rest.subspan(n);
    }
  }
  complete_rx_chains_locked(pair, chains, p.rx_pending);
}

VirtioNet::RxResult VirtioNet::receive_in_place_locked(size_t pair) {
  Pair& p = pairs_[pair];
  const size_t n = p.backend->receive(p.rx_segments);
  if (n == 0) return RxResult::kNone;
  if (n <= kVirtioNetHdrSize) {
    drop(rx_drops_, "backend delivered a packet without a frame");
  } else if (n > max_rx_packet_) {
    drop(rx_drops_, "frame larger than the guest negotiated");
  } else {
    complete_rx_chains_locked(pair, chains_for_locked(p, n), n);
    return RxResult::kDelivered;
  }
  return RxResult::kDropped;
}

void VirtioNet::deliver_rx_locked(size_t pair) {
  Queue* q = rx(pair);
  if (!active_locked() || q == nullptr || q->broken()) return;
  Pair& p = pairs_[pair];
  bool used = false;
  for (;;) {
    // Fast path: the held buffers cover the largest frame, the backend writes straight into
    // them. Otherwise the packet goes through rx_packet and waits for enough buffers.
    if (p.rx_pending == 0 && gather_rx_chains_locked(pair, max_rx_packet_) &&
        map_rx_chains_locked(p)) {
      const RxResult r = receive_in_place_locked(pair);
      if (r == RxResult::kNone) {
        p.backend->wait_readable();
        break;
      }
      used = used || r == RxResult::kDelivered;
      continue;
    }
    if (q->broken()) {
      fail_locked(*q, "receive queue index moved by more than its size");
      break;
    }
    if (p.rx_pending == 0) {
      const std::array<iovec, 1> whole{iovec{p.rx_packet.data(), p.rx_packet.size()}};
      p.rx_pending = p.backend->receive(whole);
      if (p.rx_pending == 0) {
        p.backend->wait_readable();
        break;
      }
      if (p.rx_pending <= kVirtioNetHdrSize) {
        drop(rx_drops_, "backend delivered a packet without a frame");
        p.rx_pending = 0;
        continue;
      }
      if (p.rx_pending > max_rx_packet_) {
        drop(rx_drops_, "frame larger than the guest negotiated");
        p.rx_pending = 0;
        continue;
      }
    }
    if (gather_rx_chains_locked(pair, p.rx_pending)) {
      write_pending_packet_locked(pair, chains_for_locked(p, p.rx_pending));
      p.rx_pending = 0;
      used = true;
      continue;
    }
    if (q->broken()) {
      fail_locked(*q, "receive queue index moved by more than its size");
      break;
    }
    const bool held_enough = mergeable_ ? p.rx_chains.size() >= q->size() : !p.rx_chains.empty();
    if (held_enough) {
      drop(rx_drops_, "frame larger than the guest's receive buffers");
      p.rx_pending = 0;
      continue;
    }
    // No receive buffers: keep the packet, stop reading the backend until the guest kicks.
    if (q->enable_notification()) continue;
    break;
  }
  if (used) notify_used_locked(static_cast<uint16_t>(2 * pair));
}

void VirtioNet::drain_tx_locked(size_t pair) {
  Queue* q = tx(pair);
  if (!active_locked() || q == nullptr || q->broken()) return;
  Pair& p = pairs_[pair];
  bool used = false;
  do {
    q->disable_notification();
    while (auto chain = q->pop()) {
      // The backend reads the guest's buffers in place: collect their host views.
      p.tx_segments.clear();
      size_t len = 0;
      bool too_large = false;
      bool too_many = false;
      while (auto d = chain->next()) {
        if (d->device_writable || d->len == 0) continue;
        if (d->len > kNetMaxPacketSize - len) {
          too_large = true;  // keep walking: the chain is still validated
          continue;
        }
        if (p.tx_segments.size() >= kNetMaxSegments) {
          too_many = true;
          continue;
        }
        const auto host = chain->memory().span(d->addr, d->len);
        if (!host) {  // the chain checked the range: cannot happen, but never send a part
          too_large = true;
          continue;
        }
        p.tx_segments.push_back(iovec{host->data(), host->size()});
        len += d->len;
      }
      if (chain->error() != ChainError::kNone) {
        fail_locked(*q, to_string(chain->error()));
        return;
      }
      if (too_large) {
        drop(tx_drops_, "transmitted frame larger than the maximum");
      } else if (too_many) {
        drop(tx_drops_, "transmitted frame in too many buffers");
      } else if (len <= kVirtioNetHdrSize) {
        drop(tx_drops_, "transmit buffer shorter than the virtio-net header");
      } else if (p.backend->send(p.tx_segments)) {
        tx_packets_.fetch_add(1, std::memory_order_relaxed);
        tx_bytes_.fetch_add(len - kVirtioNetHdrSize, std::memory_order_relaxed);
      } else {
        drop(tx_drops_, "backend refused the frame");
      }
      q->add_used(chain->head_index(), 0);
      used = true;
    }
    if (q->broken()) {
      fail_locked(*q, "transmit queue index moved by more than its size");
      return;
    }
  } while (q->enable_notification());
  if (used) notify_used_locked(static_cast<uint16_t>(2 * pair + 1));
}

void VirtioNet::handle_control_locked() {
  Queue* q = queue(control_queue());
  if (!active_locked() || q == nullptr || q->broken()) return;
  const uint16_t pairs_before = control_.queue_pairs;
  bool used = false;
  // With EVENT_IDX the driver kicks again only when the device asked for it (avail_event):
  // re-enable notification after the last request, as for the transmit queues.
  do {
    q->disable_notification();
    while (auto chain = q->pop()) {
      // Request: the readable buffers (class, command, data); the ack: the first writable byte.
      control_request_.clear();
      bool too_long = false;
      std::optional<Descriptor> ack;
      while (auto d = chain->next()) {
        if (d->device_writable) {
          if (!ack && d->len > 0) ack = *d;
          continue;
        }
        if (too_long || d->len > kNetCtrlMaxRequest - control_request_.size()) {
          too_long = true;  // keep walking: the chain is still validated
          continue;
        }
        const size_t at = control_request_.size();
        control_request_.resize(at + d->len);
        if (!chain->memory().read(d->addr, std::span(control_request_).subspan(at))) break;
      }
      if (chain->error() != ChainError::kNone) {
        fail_locked(*q, to_string(chain->error()));
        return;
      }
      const uint8_t status =
          too_long ? kNetCtrlErr : apply_net_control(control_request_, max_queue_pairs(), control_);
      uint32_t written = 0;
      if (ack && memory()->write(ack->addr, std::span(&status, 1))) written = 1;
      q->add_used(chain->head_index(), written);
      used = true;
    }
    if (q->broken()) {
      fail_locked(*q, "control queue index moved by more than its size");
      return;
    }
  } while (q->enable_notification());
  if (control_.queue_pairs != pairs_before) use_queue_pairs_locked(control_.queue_pairs);
  if (used) notify_used_locked(control_queue());
}

void VirtioNet::use_queue_pairs_locked(uint16_t pairs) {
  for (size_t i = 0; i < pairs_.size(); ++i) pairs_[i].backend->set_queue_active(i < pairs);
  // Newly enabled pairs: take their posted buffers and start reading their backends.
  for (size_t i = 1; i < pairs; ++i) deliver_rx_locked(i);
}

}  // namespace vmm::virtio
