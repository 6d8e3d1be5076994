#include "vmm/virtio/block_io_engine.hpp"

#include <liburing.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "vmm/common/error.hpp"
#include "vmm/common/unique_fd.hpp"
#include "vmm/confine/thread_seccomp.hpp"

namespace vmm::virtio {

int execute_block_io(const DiskImage& image, const BlockIo& io) noexcept {
  switch (io.op) {
    case BlockIo::Op::kRead:
      return image.read(io.iov, io.offset);
    case BlockIo::Op::kWrite:
      return image.write(io.iov, io.offset);
    case BlockIo::Op::kFlush:
      return image.flush();
    case BlockIo::Op::kDiscard:
    case BlockIo::Op::kWriteZeroes:
      for (const auto& r : io.ranges) {
        const uint64_t offset = r.sector << kSectorShift;
        const uint64_t len = uint64_t{r.num_sectors} << kSectorShift;
        const int res =
            io.op == BlockIo::Op::kDiscard
                ? image.discard(offset, len)
                : image.write_zeroes(offset, len, (r.flags & kBlkWriteZeroesFlagUnmap) != 0);
        if (res != 0) return res;
      }
      return 0;
  }
  return -EINVAL;
}

namespace {

uint64_t transfer_len(const BlockIo& io) noexcept {
  uint64_t n = 0;
  for (const auto& v : io.iov) n += v.iov_len;
  return n;
}

// Blocking operations on a few worker threads.
class ThreadPoolEngine final : public BlockIoEngine {
 public:
  ThreadPoolEngine(const DiskImage& image, Completion completion, unsigned threads,
                   BatchDone batch_done = {})
      : image_(image), completion_(std::move(completion)), batch_done_(std::move(batch_done)) {
    workers_.reserve(threads);
    for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  ~ThreadPoolEngine() override {
    drain();
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    work_cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  void submit(const BlockIo& io) override {
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back(io);
      ++in_flight_;
    }
    work_cv_.notify_one();
  }

  void drain() override {
    std::unique_lock lock(mutex_);
    idle_cv_.wait(lock, [this] { return in_flight_ == 0; });
  }

  [[nodiscard]] const char* name() const noexcept override { return "thread pool"; }

 private:
  void work() {
    confine::confine_this_thread(confine::ThreadKind::kBlockIo);
    std::unique_lock lock(mutex_);
    for (;;) {
      work_cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping and nothing left
      const BlockIo io = jobs_.front();
      jobs_.pop_front();
      lock.unlock();
      const int result = execute_block_io(image_, io);
      completion_(io.cookie, result);
      if (batch_done_) batch_done_();
      lock.lock();
      if (--in_flight_ == 0) idle_cv_.notify_all();
    }
  }

  const DiskImage& image_;
  Completion completion_;
  BatchDone batch_done_;
  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<BlockIo> jobs_;
  size_t in_flight_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

// Reads, writes and flushes through io_uring, completed on the device's event loop (the ring
// signals an eventfd the loop watches), so the thread that submits a batch also completes it
// with no other thread to wake. Discard and
// write-zeroes (rare, several ranges each), short transfers and the snapshot transfers that
// need the overlay's bookkeeping run on a small thread pool.
class IoUringEngine final : public BlockIoEngine {
 public:
  static constexpr unsigned kDepth = 256;

  static std::unique_ptr<IoUringEngine> create(const DiskImage& image, const Completion& completion,
                                               const BatchDone& batch_done, EventLoop& loop) {
    auto engine = std::unique_ptr<IoUringEngine>(new IoUringEngine(image, completion, batch_done));
    const int err = io_uring_queue_init(kDepth, &engine->ring_, 0);
    if (err < 0) {
      spdlog::debug("io_uring unavailable: {}", std::strerror(-err));
      return nullptr;
    }
    engine->ring_ready_ = true;
    engine->completion_event_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!engine->completion_event_) {
      throw Error(std::string("eventfd for io_uring completions: ") + std::strerror(errno));
    }
    if (const int r = io_uring_register_eventfd(&engine->ring_, engine->completion_event_.get());
        r < 0) {
      throw Error(std::string("io_uring_register_eventfd: ") + std::strerror(-r));
    }
    engine->completion_watch_ = loop.watch_eventfd(engine->completion_event_.get(),
                                                   [e = engine.get()] { e->reap_ready(); });
    return engine;
  }

  ~IoUringEngine() override {
    if (!ring_ready_) return;
    completion_watch_.stop();  // from here on drain() reaps everything
    drain();
    io_uring_queue_exit(&ring_);
  }

  void submit(const BlockIo& io) override {
    if (io.op == BlockIo::Op::kDiscard || io.op == BlockIo::Op::kWriteZeroes) {
      slow_.submit(io);
      return;
    }
    // A snapshot range that spans the image and the overlay, or a write that adds clusters to
    // the overlay, takes the blocking path; everything else goes straight to one file.
    int fd = -1;
    if (io.op == BlockIo::Op::kFlush) {
      fd = image_.buffered_fd();
    } else if (io.op == BlockIo::Op::kRead) {
      fd = image_.async_read_fd(io.iov, io.offset);
    } else {
      fd = image_.async_write_fd(io.iov, io.offset);
    }
    if (fd < 0) {
      slow_.submit(io);
      return;
    }
    std::unique_lock lock(mutex_);
    io_uring_sqe* sqe = slots_free_.empty() ? nullptr : get_sqe_locked();
    if (sqe == nullptr) {
      lock.unlock();
      slow_.submit(io);  // ring full: still never lose a request
      return;
    }
    const uint32_t slot = slots_free_.back();
    slots_free_.pop_back();
    slots_[slot] = io;
    switch (io.op) {
      case BlockIo::Op::kRead:
        io_uring_prep_readv(sqe, fd, io.iov.data(), static_cast<unsigned>(io.iov.size()),
                            io.offset);
        break;
      case BlockIo::Op::kWrite:
        io_uring_prep_writev(sqe, fd, io.iov.data(), static_cast<unsigned>(io.iov.size()),
                             io.offset);
        break;
      default:
        if (image_.snapshot()) {
          io_uring_prep_nop(sqe);  // nothing to persist
        } else {
          io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
        }
        break;
    }
    io_uring_sqe_set_data64(sqe, slot);
    ++in_flight_;
    if (plugged_ > 0) {
      held_back_ = true;
      return;
    }
    submit_ring_locked();
  }

  void plug() noexcept override {
    std::lock_guard lock(mutex_);
    ++plugged_;
  }

  void unplug() override {
    std::lock_guard lock(mutex_);
    if (plugged_ == 0 || --plugged_ > 0 || !held_back_) return;
    held_back_ = false;
    submit_ring_locked();
  }

  void drain() override {
    reap_until_idle();
    slow_.drain();
  }

  [[nodiscard]] const char* name() const noexcept override { return "io_uring"; }

 private:
  IoUringEngine(const DiskImage& image, const Completion& completion, const BatchDone& batch_done)
      : image_(image),
        completion_(completion),
        batch_done_(batch_done),
        // A snapshot disk's first write to each cluster runs here: more than one thread.
        slow_(image, completion, image.snapshot() ? 4 : 1, batch_done),
        slots_(kDepth) {
    slots_free_.reserve(kDepth);
    for (uint32_t i = kDepth; i > 0; --i) slots_free_.push_back(i - 1);
  }

  void submit_ring_locked() {
    const int submitted = io_uring_submit(&ring_);
    if (submitted < 0) {
      // The sqes stay queued in the ring and go out with the next submit; nothing is lost,
      // but say so.
      spdlog::warn("io_uring submit failed: {}", std::strerror(-submitted));
    }
  }

  io_uring_sqe* get_sqe_locked() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
  }

  // On the loop thread, each time the ring signals its eventfd: finishes every completion
  // there is, then one batch_done_ (under load one guest interrupt covers many requests). When
  // drain() is reaping, it finishes them instead.
  void reap_ready() {
    std::unique_lock reaping(reap_mutex_, std::try_to_lock);
    if (!reaping.owns_lock()) return;
    io_uring_cqe* cqe = nullptr;
    bool any = false;
    while (io_uring_peek_cqe(&ring_, &cqe) == 0) {
      finish(cqe);
      any = true;
    }
    if (any && batch_done_) batch_done_();
  }

  // drain() with completions reaped on the loop: finishes them itself, so that it also works
  // while the loop is held or busy. No io_uring_enter here: drain() runs on vCPU threads too
  // (a guest's device reset), whose seccomp filter allows only poll and read for the wait. The
  // kernel posts completions without help from this thread; a short poll of the eventfd (which
  // the loop may read first) paces the checks.
  void reap_until_idle() {
    const std::lock_guard reaping(reap_mutex_);
    bool any = false;
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (in_flight_ == 0) break;
      }
      io_uring_cqe* cqe = nullptr;
      bool found = false;
      while (io_uring_peek_cqe(&ring_, &cqe) == 0) {
        finish(cqe, /*redo_short=*/false);
        found = true;
      }
      if (found) {
        any = true;
        continue;
      }
      pollfd ready{completion_event_.get(), POLLIN, 0};
      if (::poll(&ready, 1, 10) > 0) {
        uint64_t count = 0;
        (void)::read(completion_event_.get(), &count, sizeof count);
      }
    }
    if (any && batch_done_) batch_done_();
  }

  // Hands one completion to the device. A short transfer is redone
  // synchronously, or with `redo_short` false (drain() on a thread that may not do file I/O, for
  // a device that is going away) fails with EIO.
  void finish(io_uring_cqe* cqe, bool redo_short = true) {
    const uint64_t token = io_uring_cqe_get_data64(cqe);
    const int res = cqe->res;
    io_uring_cqe_seen(&ring_, cqe);
    BlockIo io;
    {
      std::lock_guard lock(mutex_);
      io = slots_[token];
    }
    int result = res < 0 ? res : 0;
    if (res >= 0 && io.op != BlockIo::Op::kFlush &&
        static_cast<uint64_t>(res) != transfer_len(io)) {
      // Short transfer: redo the whole (idempotent) transfer synchronously.
      result = redo_short ? execute_block_io(image_, io) : -EIO;
    }
    completion_(io.cookie, result);
    std::lock_guard lock(mutex_);
    slots_free_.push_back(static_cast<uint32_t>(token));
    --in_flight_;
  }

  const DiskImage& image_;
  Completion completion_;
  BatchDone batch_done_;
  ThreadPoolEngine slow_;
  io_uring ring_{};
  bool ring_ready_ = false;
  std::mutex mutex_;  // submission side of the ring, slots, in_flight_
  std::vector<BlockIo> slots_;
  std::vector<uint32_t> slots_free_;
  size_t in_flight_ = 0;
  unsigned plugged_ = 0;    // plug() depth
  bool held_back_ = false;  // sqes queued while plugged, not yet submitted
  // The ring signals completion_event_ for each completion; reap_mutex_ keeps one reaper (the
  // loop or a drain()) on the ring at a time.
  UniqueFd completion_event_;
  EventLoop::EventFdWatch completion_watch_;
  std::mutex reap_mutex_;
};

}  // namespace

std::unique_ptr<BlockIoEngine> make_block_io_engine(const DiskImage& image, EventLoop& loop,
                                                    BlockIoEngine::Completion completion,
                                                    BlockIoEngineKind kind,
                                                    BlockIoEngine::BatchDone batch_done) {
  if (kind != BlockIoEngineKind::kThreadPool) {
    auto engine = IoUringEngine::create(image, completion, batch_done, loop);
    if (engine) return engine;
    if (kind == BlockIoEngineKind::kIoUring) throw Error("io_uring is not available on this host");
    spdlog::info("{}: io_uring not available, using a thread pool for disk I/O", image.path());
  }
  return std::make_unique<ThreadPoolEngine>(image, std::move(completion), 4, std::move(batch_done));
}

}  // namespace vmm::virtio
