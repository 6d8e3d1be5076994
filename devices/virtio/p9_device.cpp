#include "vmm/virtio/p9_device.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "vmm/common/error.hpp"
#include "vmm/confine/thread_seccomp.hpp"

namespace vmm::virtio {

VirtioP9::VirtioP9(const ShareConfig& config, EventLoop& loop)
    : QueueDevice(loop, "virtio-9p " + config.tag, 1),
      tag_(config.tag),
      server_(config.path, config.read_only) {
  if (const std::string problem = share_tag_problem(tag_); !problem.empty()) {
    throw ConfigError("share " + config.path.string() + ": " + problem);
  }
  features_ = feature_bit(kFeatureVersion1) | feature_bit(kFeatureRingIndirectDesc) |
              feature_bit(kFeatureRingEventIdx) | feature_bit(k9pFeatureMountTag);
  // struct virtio_9p_config: le16 tag_len, then the tag (not NUL-terminated).
  config_.push_back(static_cast<uint8_t>(tag_.size()));
  config_.push_back(static_cast<uint8_t>(tag_.size() >> 8));
  config_.insert(config_.end(), tag_.begin(), tag_.end());
  worker_ = std::thread([this] { worker_main(); });
  spdlog::debug("virtio-9p: {} as '{}'{}", config.path.string(), tag_,
                config.read_only ? ", read-only" : "");
}

VirtioP9::~VirtioP9() {
  reset();
  {
    std::lock_guard lock(jobs_mutex_);
    stopping_ = true;
  }
  jobs_cv_.notify_all();
  worker_.join();
}

void VirtioP9::read_config(uint64_t offset, std::span<uint8_t> data) {
  read_config_bytes(config_, offset, data);
}

void VirtioP9::write_config(uint64_t offset, std::span<const uint8_t> data) {
  // The tag is read-only.
  SPDLOG_DEBUG("virtio-9p: ignoring config write at {:#x} ({} bytes)", offset, data.size());
}

DeviceCounters VirtioP9::named_counters() const {
  return {{"requests", requests_.load()},
          {"errors", errors_.load()},
          {"request_bytes", request_bytes_.load()},
          {"reply_bytes", reply_bytes_.load()}};
}

void VirtioP9::on_notify_locked(uint16_t /*queue*/) {
  Queue* requests = queue(0);
  if (requests == nullptr) return;
  do {
    requests->disable_notification();
    for (;;) {
      // At the cap a completion drives the queue again.
      if (in_flight_ >= kMaxInFlight) return;
      auto chain = requests->pop();
      if (!chain) {
        if (requests->broken()) {
          fail_locked(*requests, "avail index moved by more than the queue size");
          return;
        }
        break;
      }
      Job job;
      job.head = chain->head_index();
      // Readable buffers come first (the chain enforces it): copy the request out of guest
      // memory, no more than the largest message a session may use, and keep the writable
      // ones for the reply.
      bool ok = true;
      while (auto d = chain->next()) {
        if (d->device_writable) {
          if (d->len > 0) job.reply_buffers.buffers.push_back(*d);
          continue;
        }
        const size_t room = p9::kMaxMsize + size_t{1} - job.request.size();
        const size_t take = std::min<size_t>(d->len, room);
        if (take == 0) continue;  // oversized: the server sees a size mismatch
        const size_t at = job.request.size();
        job.request.resize(at + take);
        if (!chain->memory().read(d->addr, std::span(job.request).subspan(at, take))) ok = false;
      }
      if (!ok || chain->error() != ChainError::kNone) {
        fail_locked(*requests, fmt::format("malformed request (head {}: {})", job.head,
                                           to_string(chain->error())));
        return;
      }
      job.reply_buffers.head = job.head;
      job.reply_buffers.len = chain->writable_len();
      {
        std::lock_guard lock(jobs_mutex_);
        job.generation = generation_;
        jobs_.push_back(std::move(job));
      }
      ++in_flight_;
      jobs_cv_.notify_one();
    }
  } while (requests->enable_notification());
}

void VirtioP9::quiesce() {
  std::unique_lock lock(jobs_mutex_);
  jobs_.clear();
  ++generation_;
  jobs_cv_.wait(lock, [this] { return !worker_busy_; });
}

void VirtioP9::stop_locked() {
  // The worker is idle and no request will come before the next activation: a new driver
  // starts a new 9P session.
  server_.reset();
  in_flight_ = 0;
}

void VirtioP9::worker_main() {
  confine::confine_this_thread(confine::ThreadKind::kFileServer);
  std::vector<uint8_t> reply;
  for (;;) {
    Job job;
    {
      std::unique_lock lock(jobs_mutex_);
      jobs_cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
      worker_busy_ = true;
    }
    reply.clear();
    const auto limit =
        static_cast<uint32_t>(std::min<uint64_t>(job.reply_buffers.len, uint64_t{p9::kMaxMsize}));
    if (limit >= p9::kIoHeaderSize) server_.handle(job.request, limit, reply);
    complete(job, reply);
    {
      std::lock_guard lock(jobs_mutex_);
      worker_busy_ = false;
    }
    jobs_cv_.notify_all();
  }
}

void VirtioP9::complete(const Job& job, const std::vector<uint8_t>& reply) {
  requests_.fetch_add(1, std::memory_order_relaxed);
  request_bytes_.fetch_add(job.request.size(), std::memory_order_relaxed);
  reply_bytes_.fetch_add(reply.size(), std::memory_order_relaxed);
  if (reply.size() > 4 && reply[4] == p9::kRlerror) errors_.fetch_add(1, std::memory_order_relaxed);

  std::lock_guard lock(mutex());
  {
    std::lock_guard jobs_lock(jobs_mutex_);
    if (job.generation != generation_) return;  // the device was reset meanwhile
  }
  Queue* requests = queue(0);
  if (!active_locked() || requests == nullptr || memory() == nullptr) return;
  size_t done = 0;
  for (const Descriptor& d : job.reply_buffers.buffers) {
    if (done == reply.size()) break;
    const size_t n = std::min<size_t>(d.len, reply.size() - done);
    if (!memory()->write(d.addr, std::span(reply).subspan(done, n))) break;
    done += n;
  }
  requests->add_used(job.head, static_cast<uint32_t>(done));
  notify_used_locked(0);
  const bool was_full = in_flight_ >= kMaxInFlight;
  if (in_flight_ > 0) --in_flight_;
  if (was_full) on_notify_locked(0);
}

}  // namespace vmm::virtio
