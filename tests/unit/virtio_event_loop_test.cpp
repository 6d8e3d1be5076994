#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <thread>

#include "vmm/common/unique_fd.hpp"
#include "vmm/vmm/event_loop.hpp"

namespace vmm {
namespace {

void signal(int fd) {
  const uint64_t one = 1;
  ASSERT_EQ(::write(fd, &one, sizeof one), static_cast<ssize_t>(sizeof one));
}

template <typename Pred>
bool wait_for(Pred pred) {
  for (int i = 0; i < 2000 && !pred(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return pred();
}

TEST(EventLoop, PauseHoldsHandlersUntilResume) {
  EventLoop loop;
  const UniqueFd efd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  std::atomic<int> fired{0};
  std::atomic<int> posted{0};
  auto watch = loop.watch_eventfd(efd.get(), [&] { ++fired; });
  loop.pause();
  loop.pause();  // idempotent
  signal(efd.get());
  loop.post([&] { ++posted; });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(fired.load(), 0) << "a handler ran while the loop was paused";
  EXPECT_EQ(posted.load(), 0) << "posted work ran while the loop was paused";
  loop.resume();
  EXPECT_TRUE(wait_for([&] { return fired.load() == 1 && posted.load() == 1; }));
  loop.resume();  // idempotent
}

TEST(EventLoop, DestroyingAPausedLoopDoesNotHang) {
  auto loop = std::make_unique<EventLoop>();
  loop->pause();
  auto done = std::async(std::launch::async, [&loop] { loop.reset(); });
  EXPECT_EQ(done.wait_for(std::chrono::seconds(5)), std::future_status::ready);
}

TEST(EventLoop, RunSyncRunsOnTheLoopThread) {
  EventLoop loop;
  bool on_loop = false;
  loop.run_sync([&] { on_loop = loop.in_loop_thread(); });
  EXPECT_TRUE(on_loop);
  EXPECT_FALSE(loop.in_loop_thread());
}

TEST(EventLoop, RunSyncPropagatesExceptions) {
  EventLoop loop;
  EXPECT_THROW(loop.run_sync([] { throw std::runtime_error("boom"); }), std::runtime_error);
  int x = 0;
  loop.run_sync([&] { x = 1; });  // still alive
  EXPECT_EQ(x, 1);
}

TEST(EventLoop, EventFdWatchFiresAndStops) {
  EventLoop loop;
  UniqueFd efd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  ASSERT_TRUE(efd);
  std::atomic<int> calls{0};
  auto watch = loop.watch_eventfd(efd.get(), [&] {
    EXPECT_TRUE(loop.in_loop_thread());
    ++calls;
  });
  signal(efd.get());
  ASSERT_TRUE(wait_for([&] { return calls.load() == 1; }));
  signal(efd.get());
  ASSERT_TRUE(wait_for([&] { return calls.load() == 2; }));
  watch.stop();
  signal(efd.get());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(calls.load(), 2);
}

}  // namespace
}  // namespace vmm
