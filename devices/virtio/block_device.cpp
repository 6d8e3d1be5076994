#include "vmm/virtio/block_device.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "vmm/common/error.hpp"

namespace vmm::virtio {

namespace {

// virtio_blk_config offsets (5.2.4).
constexpr size_t kCfgCapacity = 0;
constexpr size_t kCfgSegMax = 12;
constexpr size_t kCfgBlkSize = 20;
constexpr size_t kCfgNumQueues = 34;
constexpr size_t kCfgMaxDiscardSectors = 36;
constexpr size_t kCfgMaxDiscardSeg = 40;
constexpr size_t kCfgDiscardAlignment = 44;
constexpr size_t kCfgMaxWriteZeroesSectors = 48;
constexpr size_t kCfgMaxWriteZeroesSeg = 52;
constexpr size_t kCfgWriteZeroesMayUnmap = 56;

// Large enough for any single guest request, small enough that one request cannot keep the
// disk busy for long; 8 sectors = 4 KiB granularity, the host file system's block size.
constexpr uint32_t kMaxDiscardSectors = 1U << 22;
constexpr uint32_t kDiscardAlignmentSectors = 8;

template <typename T>
void put(std::span<uint8_t> config, size_t offset, T value) {
  std::memcpy(config.data() + offset, &value, sizeof value);
}

// Holds an engine's submissions back for the scope of one pass over a queue.
class EnginePlug {
 public:
  explicit EnginePlug(BlockIoEngine& engine) noexcept : engine_(engine) { engine_.plug(); }
  ~EnginePlug() { engine_.unplug(); }
  EnginePlug(const EnginePlug&) = delete;
  EnginePlug& operator=(const EnginePlug&) = delete;

 private:
  BlockIoEngine& engine_;
};

unsigned checked_queue_count(const BlockDeviceConfig& config) {
  // The VM sizes a default (0) by its vCPUs first; a device built alone has one queue.
  if (config.queues == 0) return 1;
  if (config.queues > kMaxBlockQueues) {
    throw ConfigError(config.path + ": " + std::to_string(config.queues) +
                      " request queues; a disk has 1 to " + std::to_string(kMaxBlockQueues));
  }
  return config.queues;
}

}  // namespace

VirtioBlock::VirtioBlock(const BlockDeviceConfig& config, EventLoop& loop)
    : QueueDevice(loop, "virtio-blk " + config.path,
                  static_cast<uint16_t>(checked_queue_count(config))),
      serial_(config.serial),
      queue_sizes_(checked_queue_count(config), kQueueSize) {
  const auto queues = static_cast<unsigned>(queue_sizes_.size());
  if (serial_.size() > kBlkIdBytes) {
    throw ConfigError("disk serial '" + serial_ + "' is longer than 20 characters");
  }
  image_ = DiskImage::open(config.path, config.read_only, config.cache, config.snapshot);
  limits_.capacity_sectors = image_.size_bytes() >> kSectorShift;
  limits_.read_only = config.read_only;
  limits_.discard = !config.read_only;
  limits_.write_zeroes = !config.read_only;
  limits_.max_discard_sectors = kMaxDiscardSectors;
  limits_.max_write_zeroes_sectors = kMaxDiscardSectors;

  features_ = feature_bit(kFeatureVersion1) | feature_bit(kFeatureRingIndirectDesc) |
              feature_bit(kFeatureRingEventIdx) | feature_bit(kBlkFeatureSegMax) |
              feature_bit(kBlkFeatureBlkSize) | feature_bit(kBlkFeatureFlush);
  if (queues > 1) features_ |= feature_bit(kBlkFeatureMq);
  if (config.read_only) {
    features_ |= feature_bit(kBlkFeatureRo);
  } else {
    features_ |= feature_bit(kBlkFeatureDiscard) | feature_bit(kBlkFeatureWriteZeroes);
  }
  build_config(queues);
  // An engine per queue: its own ring and completion thread, no submission lock shared
  // between queues (one ring with a shared lock would serialize every vCPU's submissions).
  request_queues_.reserve(queues);
  for (unsigned q = 0; q < queues; ++q) {
    auto rq = std::make_unique<RequestQueue>();
    rq->index = static_cast<uint16_t>(q);
    RequestQueue* owner = rq.get();
    rq->engine = make_block_io_engine(
        image_, loop,
        [this, owner](uint64_t slot, int result) { on_io_complete(*owner, slot, result); },
        config.engine, [this, owner] { on_io_batch_done(*owner); });
    request_queues_.push_back(std::move(rq));
  }
  spdlog::debug("virtio-blk {}: {} sectors{}, {} queue(s), I/O via {}", image_.path(),
                limits_.capacity_sectors,
                config.read_only ? ", read-only" : (image_.snapshot() ? ", snapshot" : ""), queues,
                io_engine_name());
}

VirtioBlock::~VirtioBlock() {
  reset();
  // Joins the engines' threads while `this` is still whole.
  for (auto& rq : request_queues_) rq->engine.reset();
}

void VirtioBlock::build_config(unsigned queue_count) {
  put<uint64_t>(config_, kCfgCapacity, limits_.capacity_sectors);
  put<uint32_t>(config_, kCfgSegMax, static_cast<uint32_t>(kBlkMaxSegments));
  // With O_DIRECT, the host's alignment, so the guest's own I/O is direct-capable (requests
  // that still miss it take the buffered path); capped at a page, Linux's usual limit.
  const uint64_t block_size = std::clamp<uint64_t>(image_.direct_alignment(), kSectorSize, 4096);
  put<uint32_t>(config_, kCfgBlkSize, static_cast<uint32_t>(block_size));
  put<uint16_t>(config_, kCfgNumQueues, static_cast<uint16_t>(queue_count));
  if (limits_.discard) {
    put<uint32_t>(config_, kCfgMaxDiscardSectors, limits_.max_discard_sectors);
    put<uint32_t>(config_, kCfgMaxDiscardSeg, static_cast<uint32_t>(kBlkMaxDiscardSegments));
    put<uint32_t>(config_, kCfgDiscardAlignment, kDiscardAlignmentSectors);
  }
  if (limits_.write_zeroes) {
    put<uint32_t>(config_, kCfgMaxWriteZeroesSectors, limits_.max_write_zeroes_sectors);
    put<uint32_t>(config_, kCfgMaxWriteZeroesSeg, static_cast<uint32_t>(kBlkMaxDiscardSegments));
    put<uint8_t>(config_, kCfgWriteZeroesMayUnmap, 1);
  }
}

void VirtioBlock::read_config(uint64_t offset, std::span<uint8_t> data) {
  read_config_bytes(config_, offset, data);
}

void VirtioBlock::write_config(uint64_t offset, std::span<const uint8_t> data) {
  // Only `writeback` is writable, and only with CONFIG_WCE, which is not offered.
  SPDLOG_DEBUG("virtio-blk: ignoring config write at {:#x} ({} bytes)", offset, data.size());
}

bool VirtioBlock::start_locked(const ActivateContext& /*context*/) {
  // A driver may use fewer queues than offered (Linux uses at most one per vCPU); the first
  // is the one every driver needs.
  if (queue(0) == nullptr) {
    spdlog::warn("{}: driver started the device without its first request queue", log_name());
    return false;
  }
  for (auto& rq : request_queues_) {
    std::lock_guard lock(rq->mutex);
    rq->ring = queue(rq->index);
    rq->running = rq->ring != nullptr;
    rq->interrupt = rq->running ? interrupt() : nullptr;
    rq->free_slots.clear();
    if (!rq->running) continue;
    rq->slots.resize(rq->ring->size());
    rq->free_slots.reserve(rq->slots.size());
    for (size_t i = rq->slots.size(); i > 0; --i) {
      rq->free_slots.push_back(static_cast<uint16_t>(i - 1));
    }
  }
  return true;
}

void VirtioBlock::on_notify_locked(uint16_t queue) {
  // QueueDevice only reports the queues it was built with; the index is ours, not the guest's.
  if (queue >= request_queues_.size()) return;
  RequestQueue& rq = *request_queues_[queue];
  std::lock_guard lock(rq.mutex);
  if (rq.running) process_queue_locked(rq);
}

void VirtioBlock::quiesce() {
  for (auto& rq : request_queues_) {
    {
      std::lock_guard lock(rq->mutex);
      rq->running = false;
    }
    rq->engine->drain();
  }
}

void VirtioBlock::stop_locked() {
  for (auto& rq : request_queues_) {
    std::lock_guard lock(rq->mutex);
    rq->running = false;
    rq->signal_pending = false;
    rq->ring = nullptr;
    rq->interrupt = nullptr;
    rq->free_slots.clear();
  }
}

void VirtioBlock::process_queue_locked(RequestQueue& rq) {
  Queue* requests = rq.ring;
  if (requests == nullptr) return;
  // Every request this pass finds goes to the host in one submission, on every way out.
  const EnginePlug plug(*rq.engine);
  do {
    requests->disable_notification();
    while (!rq.free_slots.empty()) {
      auto chain = requests->pop();
      if (!chain) {
        if (requests->broken()) {
          fail_locked(*requests, "avail index moved by more than the queue size");
          return;
        }
        break;
      }
      const uint16_t index = rq.free_slots.back();
      Slot& slot = rq.slots[index];
      BlkRequest& req = slot.request;
      switch (parse_block_request(*chain, limits_, req)) {
        case BlkParseResult::kMalformed:
          fail_locked(*requests, fmt::format("malformed request on queue {} (head {}: {})",
                                             rq.index, chain->head_index(),
                                             chain->error() != ChainError::kNone
                                                 ? to_string(chain->error())
                                                 : "no device-writable status byte"));
          return;
        case BlkParseResult::kIoError:
          SPDLOG_DEBUG("virtio-blk: request type {} sector {} refused", req.type, req.sector);
          complete_queue_locked(rq, req, kBlkStatusIoErr);
          continue;
        case BlkParseResult::kUnsupported:
          complete_queue_locked(rq, req, kBlkStatusUnsupp);
          continue;
        case BlkParseResult::kOk:
          break;
      }
      if (req.type == kBlkTypeGetId) {
        // Answered in place: copy the serial, NUL-padded, into the guest's buffers.
        std::array<uint8_t, kBlkIdBytes> id{};
        std::memcpy(id.data(), serial_.data(), serial_.size());
        size_t done = 0;
        for (size_t i = 0; i < req.data_count; ++i) {
          std::memcpy(req.data[i].iov_base, id.data() + done, req.data[i].iov_len);
          done += req.data[i].iov_len;
        }
        complete_queue_locked(rq, req, kBlkStatusOk);
        continue;
      }
      BlockIo& io = slot.io;
      io = BlockIo{};
      io.cookie = index;
      switch (req.type) {
        case kBlkTypeIn:
        case kBlkTypeOut:
          io.op = req.type == kBlkTypeIn ? BlockIo::Op::kRead : BlockIo::Op::kWrite;
          io.offset = req.sector << kSectorShift;
          io.iov = std::span<const iovec>(req.data.data(), req.data_count);
          if (req.data_len == 0) {  // nothing to transfer
            complete_queue_locked(rq, req, kBlkStatusOk);
            continue;
          }
          break;
        case kBlkTypeFlush:
          io.op = BlockIo::Op::kFlush;
          break;
        case kBlkTypeDiscard:
        case kBlkTypeWriteZeroes:
          io.op = req.type == kBlkTypeDiscard ? BlockIo::Op::kDiscard : BlockIo::Op::kWriteZeroes;
          io.ranges = std::span<const BlkDiscardRange>(req.ranges.data(), req.range_count);
          break;
        default:
          complete_queue_locked(rq, req, kBlkStatusUnsupp);
          continue;
      }
      rq.free_slots.pop_back();
      rq.engine->submit(io);
    }
    if (rq.free_slots.empty()) return;  // a completion frees a slot and drains again
  } while (requests->enable_notification());
}

DeviceCounters VirtioBlock::named_counters() const {
  return {{"read_ops", read_ops_.load()},   {"read_bytes", read_bytes_.load()},
          {"write_ops", write_ops_.load()}, {"write_bytes", write_bytes_.load()},
          {"flush_ops", flush_ops_.load()}, {"discard_ops", discard_ops_.load()},
          {"errors", errors_.load()}};
}

void VirtioBlock::complete_queue_locked(RequestQueue& rq, BlkRequest& request, uint8_t status,
                                        bool defer_signal) {
  constexpr auto relaxed = std::memory_order_relaxed;
  if (status != kBlkStatusOk) {
    errors_.fetch_add(1, relaxed);
  } else if (request.type == kBlkTypeIn) {
    read_ops_.fetch_add(1, relaxed);
    read_bytes_.fetch_add(request.data_len, relaxed);
  } else if (request.type == kBlkTypeOut) {
    write_ops_.fetch_add(1, relaxed);
    write_bytes_.fetch_add(request.data_len, relaxed);
  } else if (request.type == kBlkTypeFlush) {
    flush_ops_.fetch_add(1, relaxed);
  } else if (request.type == kBlkTypeDiscard || request.type == kBlkTypeWriteZeroes) {
    discard_ops_.fetch_add(1, relaxed);
  }
  *request.status = status;
  if (rq.ring == nullptr) return;
  rq.ring->add_used(request.head, block_request_used_len(request, status == kBlkStatusOk));
  rq.signal_pending = true;
  if (!defer_signal) signal_queue_locked(rq);
}

void VirtioBlock::signal_queue_locked(RequestQueue& rq) {
  if (!rq.signal_pending || rq.ring == nullptr) return;
  rq.signal_pending = false;
  // With EVENT_IDX this looks at every used buffer added since the last signal at once.
  if (rq.interrupt != nullptr && rq.ring->needs_notification()) {
    rq.interrupt->signal_used_queue(rq.index);
  }
}

void VirtioBlock::on_io_batch_done(RequestQueue& rq) {
  std::lock_guard lock(rq.mutex);
  if (rq.running) signal_queue_locked(rq);
}

void VirtioBlock::on_io_complete(RequestQueue& rq, uint64_t slot_index, int result) {
  std::lock_guard lock(rq.mutex);
  if (!rq.running || slot_index >= rq.slots.size()) return;
  BlkRequest& req = rq.slots[slot_index].request;
  if (result != 0) {
    spdlog::error("virtio-blk {}: host I/O error on request type {} sector {}: {}", image_.path(),
                  req.type, req.sector, std::strerror(-result));
  }
  complete_queue_locked(rq, req, result == 0 ? kBlkStatusOk : kBlkStatusIoErr,
                        /*defer_signal=*/true);
  const bool was_full = rq.free_slots.empty();
  rq.free_slots.push_back(static_cast<uint16_t>(slot_index));
  if (was_full) process_queue_locked(rq);
}

}  // namespace vmm::virtio
