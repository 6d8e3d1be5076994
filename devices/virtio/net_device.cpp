#include "vmm/virtio/net_device.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

namespace vmm::virtio {

namespace {

constexpr size_t kCfgStatus = 6;
constexpr size_t kCfgMaxVirtqueuePairs = 8;
constexpr size_t kCfgMtu = 10;
constexpr size_t kConfigSize = 12;
// Ethernet header plus one VLAN tag: the largest frame an MTU-sized packet makes.
constexpr size_t kEthernetOverhead = 18;
// Warnings about guest or backend misbehaviour: the first few, then one in this many.
constexpr uint64_t kWarnBurst = 16;
constexpr uint64_t kWarnEvery = 1024;

bool has(uint64_t features, unsigned bit) { return (features & feature_bit(bit)) != 0; }

}  // namespace

VirtioNet::VirtioNet(std::unique_ptr<NetBackend> backend, const MacAddress& mac, EventLoop& loop,
                     uint16_t mtu)
    : QueueDevice(loop, "virtio-net " + backend->describe(), 2),
      backend_(std::move(backend)),
      mac_(mac),
      mtu_(mtu) {
  features_ = feature_bit(kFeatureVersion1) | feature_bit(kFeatureRingIndirectDesc) |
              feature_bit(kFeatureRingEventIdx) | feature_bit(kNetFeatureMac) |
              feature_bit(kNetFeatureStatus) | feature_bit(kNetFeatureMtu) |
              feature_bit(kNetFeatureMrgRxbuf);
  if (backend_->supports_offloads()) {
    for (const unsigned bit :
         {kNetFeatureCsum, kNetFeatureGuestCsum, kNetFeatureHostTso4, kNetFeatureHostTso6,
          kNetFeatureGuestTso4, kNetFeatureGuestTso6, kNetFeatureHostUfo, kNetFeatureGuestUfo}) {
      features_ |= feature_bit(bit);
    }
  }
  rx_packet_.resize(kNetMaxPacketSize + 1);  // one spare byte: a longer packet is recognised
}

VirtioNet::~VirtioNet() {
  reset();
  const NetCounters c = counters();
  spdlog::info(
      "virtio-net {}: rx {} packets {} bytes {} dropped, tx {} packets {} bytes {} dropped",
      backend_->describe(), c.rx_packets, c.rx_bytes, c.rx_drops, c.tx_packets, c.tx_bytes,
      c.tx_drops);
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

void VirtioNet::read_config(uint64_t offset, std::span<uint8_t> data) {
  std::array<uint8_t, kConfigSize> config{};
  std::copy(mac_.begin(), mac_.end(), config.begin());
  const uint16_t status = kNetStatusLinkUp;
  const uint16_t pairs = 1;
  std::memcpy(config.data() + kCfgStatus, &status, sizeof status);
  std::memcpy(config.data() + kCfgMaxVirtqueuePairs, &pairs, sizeof pairs);
  std::memcpy(config.data() + kCfgMtu, &mtu_, sizeof mtu_);
  read_config_bytes(config, offset, data);
}

void VirtioNet::write_config(uint64_t /*offset*/, std::span<const uint8_t> /*data*/) {
  // With VERSION_1 the MAC is read-only (the driver uses the control queue, not offered).
}

void VirtioNet::drop(std::atomic<uint64_t>& counter, const char* what) {
  counter.fetch_add(1, std::memory_order_relaxed);
  const uint64_t n = warnings_.fetch_add(1, std::memory_order_relaxed);
  if (n < kWarnBurst || n % kWarnEvery == 0) {
    spdlog::warn("virtio-net {}: {}; packet dropped ({} warnings so far)", backend_->describe(),
                 what, n + 1);
  }
}

bool VirtioNet::start_locked(const ActivateContext& context) {
  const uint64_t f = context.features;
  const bool guest_gso =
      has(f, kNetFeatureGuestTso4) || has(f, kNetFeatureGuestTso6) || has(f, kNetFeatureGuestUfo);
  mergeable_ = has(f, kNetFeatureMrgRxbuf);
  max_rx_packet_ = guest_gso ? kNetMaxPacketSize : kVirtioNetHdrSize + mtu_ + kEthernetOverhead;
  rx_pending_ = 0;
  rx_chains_.clear();
  return true;
}

void VirtioNet::start_host(const ActivateContext& context) {
  const uint64_t f = context.features;
  NetOffloads offloads;
  offloads.csum = has(f, kNetFeatureGuestCsum);
  // Segmentation offloads need checksum offload too (5.1.3.1).
  offloads.tso4 = offloads.csum && has(f, kNetFeatureGuestTso4);
  offloads.tso6 = offloads.csum && has(f, kNetFeatureGuestTso6);
  offloads.ufo = offloads.csum && has(f, kNetFeatureGuestUfo);
  backend_->set_offloads(offloads);
  backend_->start(loop(), [this] { on_backend_readable(); });
  backend_started_ = true;
}

void VirtioNet::on_notify_locked(uint16_t queue) {
  if (queue == kTransmitQueue) {
    drain_tx_locked();
  } else {
    deliver_rx_locked();  // new buffers: resumes reading a backend that was held back
  }
}

void VirtioNet::quiesce() {
  if (backend_started_) {
    backend_->stop();
    backend_started_ = false;
  }
}

void VirtioNet::stop_locked() {
  rx_chains_.clear();
  if (rx_pending_ != 0) rx_drops_.fetch_add(1, std::memory_order_relaxed);
  rx_pending_ = 0;
}

void VirtioNet::on_backend_readable() {
  std::lock_guard lock(mutex());
  deliver_rx_locked();
}

bool VirtioNet::gather_rx_chains_locked(size_t needed) {
  for (;;) {
    size_t have = 0;
    for (const ChainBuffers& c : rx_chains_) {
      have += c.len;
      if (!mergeable_) break;  // the packet must fit in one chain
    }
    if (!rx_chains_.empty() && have >= needed) return true;
    if (!mergeable_ && !rx_chains_.empty()) return false;
    if (rx_chains_.size() >= rx()->size()) return false;  // every buffer held: too large
    auto chain = rx()->pop();
    if (!chain) return false;
    ChainBuffers held;
    if (!collect_buffers(*chain, /*writable=*/true, held)) {
      fail_locked(*rx(), to_string(chain->error()));
      return false;
    }
    if (held.len < kVirtioNetHdrSize) {
      // Unusable: give it back empty so the guest can see and recycle it.
      rx()->add_used(held.head, 0);
      drop(rx_drops_, "receive buffer shorter than the virtio-net header");
      notify_used_locked(kReceiveQueue);
      continue;
    }
    rx_chains_.push_back(std::move(held));
  }
}

bool VirtioNet::map_rx_chains_locked() {
  rx_segments_.clear();
  size_t left = max_rx_packet_;
  for (const ChainBuffers& c : rx_chains_) {
    for (const Descriptor& d : c.buffers) {
      if (left == 0) break;
      if (rx_segments_.size() + 1 >= kNetMaxSegments) return false;  // room for the spare byte
      const size_t n = std::min<size_t>(d.len, left);
      const auto host = memory()->span(d.addr, n);
      if (!host) return false;  // checked when popped: cannot happen
      rx_segments_.push_back(iovec{host->data(), n});
      left -= n;
    }
    if (left == 0 || !mergeable_) break;
  }
  if (left != 0) return false;
  // One host byte past the largest acceptable packet: a frame reaching it is too large.
  rx_segments_.push_back(iovec{rx_spare_.data(), rx_spare_.size()});
  return true;
}

size_t VirtioNet::chains_for_locked(size_t len) const {
  if (!mergeable_) return 1;
  size_t chains = 0;
  for (size_t have = 0; have < len; have += rx_chains_[chains++].len) {
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

void VirtioNet::complete_rx_chains_locked(size_t chains, size_t len) {
  const auto count = static_cast<uint16_t>(chains);
  std::array<uint8_t, sizeof count> num_buffers{};
  std::memcpy(num_buffers.data(), &count, sizeof count);
  // The header lies in the first chain, which is at least header-sized (checked at pop).
  (void)write_chain_bytes_locked(rx_chains_.front(), kNetHdrNumBuffersOffset, num_buffers);
  size_t left = len;
  for (size_t i = 0; i < chains; ++i) {
    const size_t used = std::min<size_t>(rx_chains_[i].len, left);
    rx()->add_used(rx_chains_[i].head, static_cast<uint32_t>(used));
    left -= used;
  }
  rx_chains_.erase(rx_chains_.begin(), rx_chains_.begin() + static_cast<long>(chains));
  rx_packets_.fetch_add(1, std::memory_order_relaxed);
  rx_bytes_.fetch_add(len - kVirtioNetHdrSize, std::memory_order_relaxed);
}

void VirtioNet::write_pending_packet_locked(size_t chains) {
  std::span<const uint8_t> rest(rx_packet_.data(), rx_pending_);
  for (size_t i = 0; i < chains; ++i) {
    for (const Descriptor& d : rx_chains_[i].buffers) {
      if (rest.empty()) break;
      const size_t n = std::min<size_t>(d.len, rest.size());
      if (!memory()->write(d.addr, rest.first(n))) break;  // checked at pop: cannot fail
      rest = rest.subspan(n);
    }
  }
  complete_rx_chains_locked(chains, rx_pending_);
}

VirtioNet::RxResult VirtioNet::receive_in_place_locked() {
  const size_t n = backend_->receive(rx_segments_);
  if (n == 0) return RxResult::kNone;
  if (n <= kVirtioNetHdrSize) {
    drop(rx_drops_, "backend delivered a packet without a frame");
  } else if (n > max_rx_packet_) {
    drop(rx_drops_, "frame larger than the guest negotiated");
  } else {
    complete_rx_chains_locked(chains_for_locked(n), n);
    return RxResult::kDelivered;
  }
  return RxResult::kDropped;
}

void VirtioNet::deliver_rx_locked() {
  if (!active_locked() || rx() == nullptr || rx()->broken()) return;
  bool used = false;
  for (;;) {
    // Fast path: the held buffers cover the largest frame, the backend writes straight into
    // them. Otherwise the packet goes through rx_packet_ and waits for enough buffers.
    if (rx_pending_ == 0 && gather_rx_chains_locked(max_rx_packet_) && map_rx_chains_locked()) {
      const RxResult r = receive_in_place_locked();
      if (r == RxResult::kNone) {
        backend_->wait_readable();
        break;
      }
      used = used || r == RxResult::kDelivered;
      continue;
    }
    if (rx()->broken()) {
      fail_locked(*rx(), "receive queue index moved by more than its size");
      break;
    }
    if (rx_pending_ == 0) {
      const std::array<iovec, 1> whole{iovec{rx_packet_.data(), rx_packet_.size()}};
      rx_pending_ = backend_->receive(whole);
      if (rx_pending_ == 0) {
        backend_->wait_readable();
        break;
      }
      if (rx_pending_ <= kVirtioNetHdrSize) {
        drop(rx_drops_, "backend delivered a packet without a frame");
        rx_pending_ = 0;
        continue;
      }
      if (rx_pending_ > max_rx_packet_) {
        drop(rx_drops_, "frame larger than the guest negotiated");
        rx_pending_ = 0;
        continue;
      }
    }
    if (gather_rx_chains_locked(rx_pending_)) {
      write_pending_packet_locked(chains_for_locked(rx_pending_));
      rx_pending_ = 0;
      used = true;
      continue;
    }
    if (rx()->broken()) {
      fail_locked(*rx(), "receive queue index moved by more than its size");
      break;
    }
    const bool held_enough = mergeable_ ? rx_chains_.size() >= rx()->size() : !rx_chains_.empty();
    if (held_enough) {
      drop(rx_drops_, "frame larger than the guest's receive buffers");
      rx_pending_ = 0;
      continue;
    }
    // No receive buffers: keep the packet, stop reading the backend until the guest kicks.
    if (rx()->enable_notification()) continue;
    break;
  }
  if (used) notify_used_locked(kReceiveQueue);
}

void VirtioNet::drain_tx_locked() {
  if (!active_locked() || tx() == nullptr || tx()->broken()) return;
  bool used = false;
  do {
    tx()->disable_notification();
    while (auto chain = tx()->pop()) {
      // The backend reads the guest's buffers in place: collect their host views.
      tx_segments_.clear();
      size_t len = 0;
      bool too_large = false;
      bool too_many = false;
      while (auto d = chain->next()) {
        if (d->device_writable || d->len == 0) continue;
        if (d->len > kNetMaxPacketSize - len) {
          too_large = true;  // keep walking: the chain is still validated
          continue;
        }
        if (tx_segments_.size() >= kNetMaxSegments) {
          too_many = true;
          continue;
        }
        const auto host = chain->memory().span(d->addr, d->len);
        if (!host) break;  // the chain checked the range: cannot happen
        tx_segments_.push_back(iovec{host->data(), host->size()});
        len += d->len;
      }
      if (chain->error() != ChainError::kNone) {
        fail_locked(*tx(), to_string(chain->error()));
        return;
      }
      if (too_large) {
        drop(tx_drops_, "transmitted frame larger than the maximum");
      } else if (too_many) {
        drop(tx_drops_, "transmitted frame in too many buffers");
      } else if (len <= kVirtioNetHdrSize) {
        drop(tx_drops_, "transmit buffer shorter than the virtio-net header");
      } else if (backend_->send(tx_segments_)) {
        tx_packets_.fetch_add(1, std::memory_order_relaxed);
        tx_bytes_.fetch_add(len - kVirtioNetHdrSize, std::memory_order_relaxed);
      } else {
        drop(tx_drops_, "backend refused the frame");
      }
      tx()->add_used(chain->head_index(), 0);
      used = true;
    }
    if (tx()->broken()) {
      fail_locked(*tx(), "transmit queue index moved by more than its size");
      return;
    }
  } while (tx()->enable_notification());
  if (used) notify_used_locked(kTransmitQueue);
}

}  // namespace vmm::virtio
