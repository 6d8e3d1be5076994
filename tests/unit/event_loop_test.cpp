#include "vmm/event_loop/event_loop.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <memory>
#include <thread>

#include "vmm/common/unique_fd.hpp"

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

struct Pipe {
  UniqueFd read_end;
  UniqueFd write_end;
  Pipe() {
    int fds[2] = {-1, -1};
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
      read_end.reset(fds[0]);
      write_end.reset(fds[1]);
    }
  }
};

TEST(EventLoop, FdWatchCallsOncePerWait) {
  EventLoop loop;
  Pipe pipe;
  ASSERT_TRUE(pipe.read_end);
  auto watch = loop.watch_fd(pipe.read_end.get());
  std::atomic<int> calls{0};
  loop.run_sync([&] { watch.wait(EventLoop::kReadable, [&] { ++calls; }); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(calls.load(), 0) << "called before the descriptor was readable";
  ASSERT_EQ(::write(pipe.write_end.get(), "x", 1), 1);
  ASSERT_TRUE(wait_for([&] { return calls.load() == 1; }));
  // Still readable (nothing was read), but the wait is over until it is armed again.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(calls.load(), 1);
  EXPECT_FALSE(watch.waiting());
  loop.run_sync([&] { watch.wait(EventLoop::kReadable, [&] { calls += 10; }); });
  ASSERT_TRUE(wait_for([&] { return calls.load() == 11; }));
}

TEST(EventLoop, FdWatchForSeveralKindsCallsOnce) {
  EventLoop loop;
  int fds[2] = {-1, -1};
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds), 0);
  UniqueFd a(fds[0]);
  UniqueFd b(fds[1]);
  ASSERT_EQ(::write(b.get(), "x", 1), 1);  // `a` is readable and writable at once
  auto watch = loop.watch_fd(a.get());
  std::atomic<int> calls{0};
  loop.run_sync([&] {
    watch.wait(EventLoop::kReadable | EventLoop::kWritable | EventLoop::kError, [&] { ++calls; });
  });
  ASSERT_TRUE(wait_for([&] { return calls.load() >= 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(calls.load(), 1);
}

TEST(EventLoop, FdWatchCancelledOrReplacedNeverCalls) {
  EventLoop loop;
  Pipe pipe;
  ASSERT_TRUE(pipe.read_end);
  auto watch = loop.watch_fd(pipe.read_end.get());
  std::atomic<int> first{0};
  std::atomic<int> second{0};
  loop.run_sync([&] {
    watch.wait(EventLoop::kReadable, [&] { ++first; });
    watch.cancel();
  });
  ASSERT_EQ(::write(pipe.write_end.get(), "x", 1), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(first.load(), 0);
  loop.run_sync([&] {
    watch.wait(EventLoop::kReadable, [&] { ++first; });
    watch.wait(EventLoop::kReadable, [&] { ++second; });
  });
  ASSERT_TRUE(wait_for([&] { return second.load() == 1; }));
  EXPECT_EQ(first.load(), 0);
}

TEST(EventLoop, DestroyedFdWatchLeavesTheDescriptorOpenAndCallsNothing) {
  EventLoop loop;
  Pipe pipe;
  ASSERT_TRUE(pipe.read_end);
  std::atomic<int> calls{0};
  {
    auto watch = loop.watch_fd(pipe.read_end.get());
    loop.run_sync([&] { watch.wait(EventLoop::kReadable, [&] { ++calls; }); });
  }
  ASSERT_EQ(::write(pipe.write_end.get(), "x", 1), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(calls.load(), 0);
  EXPECT_GE(::fcntl(pipe.read_end.get(), F_GETFD), 0) << "the watch closed the caller's descriptor";
  // The same descriptor can be watched again.
  auto again = loop.watch_fd(pipe.read_end.get());
  loop.run_sync([&] { again.wait(EventLoop::kReadable, [&] { ++calls; }); });
  ASSERT_TRUE(wait_for([&] { return calls.load() == 1; }));
}

TEST(EventLoop, TimerFiresOnceWhenDue) {
  EventLoop loop;
  auto timer = loop.make_timer();
  std::atomic<int> calls{0};
  std::atomic<bool> on_loop{false};
  const auto start = EventLoop::Timer::Clock::now();
  std::atomic<int64_t> fired_after_ms{-1};
  loop.run_sync([&] {
    timer.arm_after(std::chrono::milliseconds(50), [&] {
      on_loop = loop.in_loop_thread();
      fired_after_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           EventLoop::Timer::Clock::now() - start)
                           .count();
      ++calls;
    });
  });
  EXPECT_TRUE(timer.armed());
  ASSERT_TRUE(wait_for([&] { return calls.load() == 1; }));
  EXPECT_GE(fired_after_ms.load(), 50);
  EXPECT_TRUE(on_loop.load());
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  EXPECT_EQ(calls.load(), 1);
  EXPECT_FALSE(timer.armed());
}

TEST(EventLoop, TimerReArmedOrCancelledNeverCallsTheOldHandler) {
  EventLoop loop;
  auto timer = loop.make_timer();
  std::atomic<int> old_calls{0};
  std::atomic<int> new_calls{0};
  loop.run_sync([&] {
    timer.arm_after(std::chrono::milliseconds(10), [&] { ++old_calls; });
    timer.arm_after(std::chrono::milliseconds(30), [&] { ++new_calls; });
  });
  ASSERT_TRUE(wait_for([&] { return new_calls.load() == 1; }));
  EXPECT_EQ(old_calls.load(), 0);
  loop.run_sync([&] {
    timer.arm_after(std::chrono::milliseconds(10), [&] { ++old_calls; });
    timer.cancel();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_EQ(old_calls.load(), 0);
  {
    auto short_lived = loop.make_timer();
    loop.run_sync(
        [&] { short_lived.arm_after(std::chrono::milliseconds(10), [&] { ++old_calls; }); });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_EQ(old_calls.load(), 0);
}

}  // namespace
}  // namespace vmm
