// The block I/O engines report the end of each run of completions (BatchDone), after the
// completions it covers, so that a device can interrupt the guest once per run.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "vmm/common/unique_fd.hpp"
#include "vmm/confine/thread_seccomp.hpp"
#include "vmm/virtio/block_io_engine.hpp"

namespace vmm::virtio {
namespace {

constexpr unsigned kOps = 64;
constexpr size_t kBlock = 4096;

// kOps reads of one block each, cookie i at offset i blocks, into buffers that outlive them.
struct ReadBuffers {
  std::vector<uint8_t> buffers = std::vector<uint8_t>(kOps * kBlock);
  std::vector<iovec> iovs = std::vector<iovec>(kOps);

  void submit_all(BlockIoEngine& engine) {
    for (unsigned i = 0; i < kOps; ++i) {
      iovs[i] = iovec{buffers.data() + i * kBlock, kBlock};
      BlockIo io;
      io.op = BlockIo::Op::kRead;
      io.offset = i * kBlock;
      io.iov = std::span<const iovec>(&iovs[i], 1);
      io.cookie = i;
      engine.submit(io);
    }
  }
};

class BlockIoEngineBatchTest : public ::testing::TestWithParam<BlockIoEngineKind> {
 protected:
  void SetUp() override {
    std::array<char, 64> name{};
    std::snprintf(name.data(), name.size(), "/tmp/vmm-engine-batch-XXXXXX");
    UniqueFd fd(::mkstemp(name.data()));
    ASSERT_TRUE(fd);
    path_ = name.data();
    ASSERT_EQ(::ftruncate(fd.get(), static_cast<off_t>(kOps * kBlock)), 0);
  }
  void TearDown() override { ::unlink(path_.c_str()); }
  std::string path_;
};

TEST_P(BlockIoEngineBatchTest, EveryCompletionIsFollowedByABatchEnd) {
  const DiskImage image = DiskImage::open(path_, false, DiskCache::kWriteback);
  std::mutex mutex;
  unsigned completed = 0;
  unsigned covered = 0;  // completions before the latest batch end
  unsigned batches = 0;
  bool empty_batch = false;
  EventLoop loop;
  auto engine = make_block_io_engine(
      image, loop,
      [&](uint64_t /*cookie*/, int result) {
        EXPECT_EQ(result, 0);
        std::lock_guard lock(mutex);
        ++completed;
      },
      GetParam(),
      [&] {
        std::lock_guard lock(mutex);
        empty_batch = empty_batch || completed == covered;
        covered = completed;
        ++batches;
      });
  ReadBuffers reads;
  reads.submit_all(*engine);
  engine->drain();
  for (int i = 0; i < 1000; ++i) {
    {
      std::lock_guard lock(mutex);
      if (covered == kOps) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::lock_guard lock(mutex);
  EXPECT_EQ(completed, kOps);
  EXPECT_EQ(covered, kOps) << "completions without a batch end after them";
  EXPECT_GE(batches, 1u);
  EXPECT_LE(batches, kOps);
  // One reaper, the loop: each batch end follows at least one completion of its own. (Thread
  // pool workers end their batches concurrently, so one may find the other's already covered.)
  if (GetParam() == BlockIoEngineKind::kIoUring) {
    EXPECT_FALSE(empty_batch) << "a batch end that covered no completion";
  }
}

// A plugged io_uring engine holds its operations in the submission ring until the outermost
// unplug(), then hands them all over at once: none of them runs before.
// (The thread pool has nothing to batch; plug() is a no-op there.)
using BlockIoEnginePlugTest = BlockIoEngineBatchTest;

TEST_F(BlockIoEnginePlugTest, APluggedIoUringEngineSubmitsOnTheOutermostUnplug) {
  const DiskImage image = DiskImage::open(path_, false, DiskCache::kWriteback);
  std::atomic<unsigned> completed{0};
  EventLoop loop;
  auto engine = make_block_io_engine(
      image, loop,
      [&](uint64_t /*cookie*/, int result) {
        EXPECT_EQ(result, 0);
        completed.fetch_add(1);
      },
      BlockIoEngineKind::kIoUring);
  ReadBuffers reads;
  engine->plug();
  engine->plug();
  reads.submit_all(*engine);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(completed.load(), 0u) << "operations ran while the engine was plugged";
  engine->unplug();  // inner: still plugged
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(completed.load(), 0u) << "an inner unplug() submitted";
  engine->unplug();
  engine->drain();
  EXPECT_EQ(completed.load(), kOps);
  engine->unplug();  // unbalanced: harmless
}

// With an event loop, io_uring completions are reaped on the loop thread, each run of them
// followed by one batch end there; drain() from another thread reaps by itself, even while
// the loop is held.
using BlockIoEngineLoopTest = BlockIoEngineBatchTest;

TEST_F(BlockIoEngineLoopTest, CompletionsAndBatchEndsRunOnTheLoopThread) {
  const DiskImage image = DiskImage::open(path_, false, DiskCache::kWriteback);
  EventLoop loop;
  std::atomic<unsigned> completed{0};
  std::atomic<unsigned> covered{0};
  std::atomic<unsigned> off_loop{0};
  std::atomic<bool> empty_batch{false};
  auto engine = make_block_io_engine(
      image, loop,
      [&](uint64_t /*cookie*/, int result) {
        EXPECT_EQ(result, 0);
        if (!loop.in_loop_thread()) off_loop.fetch_add(1);
        completed.fetch_add(1);
      },
      BlockIoEngineKind::kIoUring,
      [&] {
        if (!loop.in_loop_thread()) off_loop.fetch_add(1);
        if (completed.load() == covered.load()) empty_batch = true;
        covered = completed.load();
      });
  ReadBuffers reads;
  loop.run_sync([&] { reads.submit_all(*engine); });  // as a device does, on the loop
  for (int i = 0; i < 5000 && covered.load() < kOps; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(completed.load(), kOps);
  EXPECT_EQ(covered.load(), kOps) << "completions without a batch end after them";
  EXPECT_EQ(off_loop.load(), 0u) << "a completion or batch end ran off the loop thread";
  EXPECT_FALSE(empty_batch.load()) << "a batch end that covered no completion";
  for (unsigned i = 0; i < kOps; ++i) EXPECT_EQ(reads.iovs[i].iov_len, kBlock);
}

TEST_F(BlockIoEngineLoopTest, DrainReapsByItselfWhileTheLoopIsHeld) {
  const DiskImage image = DiskImage::open(path_, false, DiskCache::kWriteback);
  EventLoop loop;
  std::atomic<unsigned> completed{0};
  auto engine = make_block_io_engine(
      image, loop, [&](uint64_t /*cookie*/, int /*result*/) { completed.fetch_add(1); },
      BlockIoEngineKind::kIoUring);
  loop.pause();
  ReadBuffers reads;
  reads.submit_all(*engine);
  engine->drain();
  EXPECT_EQ(completed.load(), kOps) << "drain() returned before every completion";
  loop.resume();
  // Operations still in flight when the engine goes are finished by its destructor.
  reads.submit_all(*engine);
  engine.reset();
  EXPECT_EQ(completed.load(), 2 * kOps);
}

// A guest that resets its disk with requests in flight makes a vCPU thread drain the engine:
// under that thread's seccomp filter (no io_uring_enter, no file I/O), which would end vmm
// with status 159 if drain() made a call the filter forbids.
TEST_F(BlockIoEngineLoopTest, DrainWorksUnderTheVcpuSeccompFilter) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const DiskImage image = DiskImage::open(path_, false, DiskCache::kWriteback);
    EventLoop loop;
    std::atomic<unsigned> completed{0};
    auto engine = make_block_io_engine(
        image, loop, [&](uint64_t /*cookie*/, int /*result*/) { completed.fetch_add(1); },
        BlockIoEngineKind::kIoUring);
    loop.pause();  // the loop reaps nothing: drain() has all of it to do
    ReadBuffers reads;
    reads.submit_all(*engine);
    confine::set_seccomp_mode(confine::SeccompMode::kKill);
    std::thread vcpu([&] {
      confine::confine_this_thread(confine::ThreadKind::kVcpu);
      engine->drain();
      ::_exit(completed.load() == kOps ? 0 : 3);
    });
    vcpu.join();
    ::_exit(4);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "159: a forbidden call; 3: drain() left completions";
}

INSTANTIATE_TEST_SUITE_P(Engines, BlockIoEngineBatchTest,
                         ::testing::Values(BlockIoEngineKind::kIoUring,
                                           BlockIoEngineKind::kThreadPool),
                         [](const auto& param_info) {
                           return param_info.param == BlockIoEngineKind::kIoUring ? "IoUring"
                                                                                  : "ThreadPool";
                         });

}  // namespace
}  // namespace vmm::virtio
