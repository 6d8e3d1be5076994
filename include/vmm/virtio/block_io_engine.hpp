#pragma once
// Asynchronous host I/O for virtio-blk: the device submits operations from the event loop and
// gets each result through a completion callback, so no guest thread ever waits on the disk.
// io_uring (liburing) where the host allows it, a small thread pool otherwise.
#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "vmm/config/block_config.hpp"
#include "vmm/event_loop/event_loop.hpp"
#include "vmm/virtio/block_request.hpp"
#include "vmm/virtio/disk_image.hpp"

namespace vmm::virtio {

struct BlockIo {
  enum class Op : uint8_t { kRead, kWrite, kFlush, kDiscard, kWriteZeroes };
  Op op = Op::kRead;
  uint64_t offset = 0;                      // bytes, for kRead / kWrite
  std::span<const iovec> iov;               // kRead / kWrite; valid until completion
  std::span<const BlkDiscardRange> ranges;  // kDiscard / kWriteZeroes; valid until completion
  uint64_t cookie = 0;                      // handed back with the result
};

// Runs one operation synchronously. 0 or a negative errno.
[[nodiscard]] int execute_block_io(const DiskImage& image, const BlockIo& io) noexcept;

class BlockIoEngine {
 public:
  // Called once per submitted operation, with 0 or a negative errno: on the event loop (io_uring),
  // a pool thread (the thread pool and io_uring's blocking path), or the thread in drain().
  using Completion = std::function<void(uint64_t cookie, int result)>;
  // Called on the same threads after a run of completions that finished together (io_uring
  // reaps every ready one), so the device can interrupt the guest once for all of them. It
  // may run just after drain() returned for the last of them.
  using BatchDone = std::function<void()>;

  BlockIoEngine() = default;
  BlockIoEngine(const BlockIoEngine&) = delete;
  BlockIoEngine& operator=(const BlockIoEngine&) = delete;
  // Waits for everything in flight; completions still run.
  virtual ~BlockIoEngine() = default;

  // Queues an operation; never waits for the disk.
  virtual void submit(const BlockIo& io) = 0;
  // Between plug() and unplug(), submit() may hold operations back so that unplug() hands
  // them to the host in one system call (a guest that queues 32 requests and notifies once
  // costs one io_uring_enter, not 32). Calls nest; the outermost unplug() submits.
  virtual void plug() noexcept {}
  virtual void unplug() {}
  // Returns once every operation submitted so far has completed (its callback returned).
  virtual void drain() = 0;
  [[nodiscard]] virtual const char* name() const noexcept = 0;
};

// kAuto probes io_uring and falls back to the thread pool. Throws vmm::Error when the
// requested kind cannot be created. `image` and `loop` must outlive the engine. `batch_done`
// may be empty. io_uring completions run on the loop thread (the thread that submits a batch
// also completes it, with no other thread to wake); drain() works from any thread: it reaps
// what it waits for itself.
[[nodiscard]] std::unique_ptr<BlockIoEngine> make_block_io_engine(
    const DiskImage& image, EventLoop& loop, BlockIoEngine::Completion completion,
    BlockIoEngineKind kind = BlockIoEngineKind::kAuto, BlockIoEngine::BatchDone batch_done = {});

}  // namespace vmm::virtio
