#include "vmm/event_loop/event_loop.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <future>
#include <mutex>
#include <string>
#include <utility>

#include "vmm/common/error.hpp"

namespace vmm {

namespace asio = boost::asio;

struct EventLoop::Impl {
  asio::io_context context;
  asio::executor_work_guard<asio::io_context::executor_type> work{context.get_executor()};
  std::thread::id loop_thread;
  std::mutex pause_mutex;
  std::condition_variable pause_cv;
  bool paused = false;  // pause() asked and resume() has not
  bool parked = false;  // the loop thread is held
};

struct EventLoop::EventFdWatch::State {
  explicit State(asio::io_context& context) : descriptor(context) {}
  asio::posix::stream_descriptor descriptor;
  std::function<void()> handler;
  bool active = true;  // touched on the loop thread only
};

EventLoop::EventLoop() : impl_(std::make_unique<Impl>()) {
  std::promise<void> started;
  auto ready = started.get_future();
  thread_ = std::thread([this, &started] {
    impl_->loop_thread = std::this_thread::get_id();
    started.set_value();
    for (;;) {
      try {
        impl_->context.run();
        return;
      } catch (const std::exception& e) {
        // A handler threw: log it and keep serving the other devices.
        spdlog::error("event loop: handler failed: {}", e.what());
      }
    }
  });
  ready.wait();
}

EventLoop::~EventLoop() {
  resume();
  impl_->work.reset();
  impl_->context.stop();
  if (thread_.joinable()) thread_.join();
}

bool EventLoop::in_loop_thread() const noexcept {
  return std::this_thread::get_id() == impl_->loop_thread;
}

void EventLoop::pause() {
  if (in_loop_thread()) throw Error("event loop: pause() from the loop thread");
  std::unique_lock lock(impl_->pause_mutex);
  if (impl_->paused) return;
  impl_->paused = true;
  asio::post(impl_->context, [impl = impl_.get()] {
    std::unique_lock held(impl->pause_mutex);
    impl->parked = true;
    impl->pause_cv.notify_all();
    impl->pause_cv.wait(held, [impl] { return !impl->paused; });
    impl->parked = false;
  });
  impl_->pause_cv.wait(lock, [this] { return impl_->parked || !impl_->paused; });
}

void EventLoop::resume() noexcept {
  std::lock_guard lock(impl_->pause_mutex);
  impl_->paused = false;
  impl_->pause_cv.notify_all();
}

void EventLoop::post(std::function<void()> fn) { asio::post(impl_->context, std::move(fn)); }

void EventLoop::run_sync(const std::function<void()>& fn) {
  if (in_loop_thread()) {
    fn();
    return;
  }
  std::promise<void> done;
  auto finished = done.get_future();
  asio::post(impl_->context, [&fn, &done] {
    try {
      fn();
      done.set_value();
    } catch (...) {
      done.set_exception(std::current_exception());
    }
  });
  finished.get();
}

namespace {

void arm(const std::shared_ptr<EventLoop::EventFdWatch::State>& state) {
  state->descriptor.async_wait(
      asio::posix::stream_descriptor::wait_read, [state](const boost::system::error_code& ec) {
        if (ec || !state->active) return;
        uint64_t count = 0;
        const ssize_t n = ::read(state->descriptor.native_handle(), &count, sizeof count);
        if (n < 0 && errno != EAGAIN && errno != EINTR) {
          spdlog::error("event loop: reading eventfd failed: {}", std::strerror(errno));
          return;
        }
        state->handler();
        if (state->active) arm(state);
      });
}

}  // namespace

EventLoop::EventFdWatch EventLoop::watch_eventfd(int eventfd, std::function<void()> handler) {
  const int fd = ::fcntl(eventfd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) throw system_error("cannot duplicate eventfd", errno);
  auto state = std::make_shared<EventFdWatch::State>(impl_->context);
  boost::system::error_code ec;
  state->descriptor.assign(fd, ec);
  if (ec) {
    ::close(fd);
    throw Error("cannot watch eventfd: " + ec.message());
  }
  state->descriptor.non_blocking(true, ec);
  state->handler = std::move(handler);
  run_sync([&state] { arm(state); });
  return EventFdWatch(this, std::move(state));
}

EventLoop::EventFdWatch::EventFdWatch(EventLoop* loop, std::shared_ptr<State> state) noexcept
    : loop_(loop), state_(std::move(state)) {}

EventLoop::EventFdWatch::EventFdWatch(EventFdWatch&& other) noexcept
    : loop_(std::exchange(other.loop_, nullptr)), state_(std::move(other.state_)) {}

EventLoop::EventFdWatch& EventLoop::EventFdWatch::operator=(EventFdWatch&& other) noexcept {
  if (this != &other) {
    stop();
    loop_ = std::exchange(other.loop_, nullptr);
    state_ = std::move(other.state_);
  }
  return *this;
}

EventLoop::EventFdWatch::~EventFdWatch() { stop(); }

void EventLoop::EventFdWatch::stop() noexcept {
  if (!state_) return;
  auto state = std::move(state_);
  try {
    loop_->run_sync([&state] {
      state->active = false;
      boost::system::error_code ec;
      state->descriptor.cancel(ec);
      state->descriptor.close(ec);
    });
  } catch (const std::exception& e) {
    spdlog::error("event loop: stopping an eventfd watch failed: {}", e.what());
  }
}

// --- descriptor readiness ---------------------------------------------------------------

struct EventLoop::FdWatch::State {
  explicit State(asio::io_context& context) : descriptor(context) {}
  asio::posix::stream_descriptor descriptor;
  std::function<void()> handler;
  // Bumped by every wait, completion and cancel: a completion of an older wait is ignored, so
  // the aborted siblings of a wait for several kinds of readiness never call anything.
  uint64_t generation = 0;
  bool waiting = false;

  void cancel() noexcept {
    ++generation;
    waiting = false;
    handler = nullptr;
    boost::system::error_code ec;
    descriptor.cancel(ec);
  }
};

EventLoop::FdWatch EventLoop::watch_fd(int fd) {
  auto state = std::make_shared<FdWatch::State>(impl_->context);
  boost::system::error_code ec;
  state->descriptor.assign(fd, ec);
  if (ec) throw Error("cannot watch descriptor " + std::to_string(fd) + ": " + ec.message());
  return FdWatch(this, std::move(state));
}

EventLoop::FdWatch::FdWatch(EventLoop* loop, std::shared_ptr<State> state) noexcept
    : loop_(loop), state_(std::move(state)) {}

EventLoop::FdWatch::FdWatch(FdWatch&& other) noexcept
    : loop_(std::exchange(other.loop_, nullptr)), state_(std::move(other.state_)) {}

EventLoop::FdWatch& EventLoop::FdWatch::operator=(FdWatch&& other) noexcept {
  if (this != &other) {
    release();
    loop_ = std::exchange(other.loop_, nullptr);
    state_ = std::move(other.state_);
  }
  return *this;
}

EventLoop::FdWatch::~FdWatch() { release(); }

void EventLoop::FdWatch::wait(unsigned interest, std::function<void()> handler) {
  if (!state_) throw Error("event loop: wait on an empty descriptor watch");
  State& s = *state_;
  if (s.waiting) s.cancel();
  const uint64_t generation = ++s.generation;
  s.handler = std::move(handler);
  s.waiting = true;
  auto done = [state = state_, generation](const boost::system::error_code& ec) {
    if (state->generation != generation || !state->waiting) return;
    if (ec) {
      if (ec != asio::error::operation_aborted) {
        spdlog::error("event loop: waiting on descriptor {} failed: {}",
                      state->descriptor.native_handle(), ec.message());
      }
      state->waiting = false;
      return;
    }
    auto ready = std::move(state->handler);
    state->cancel();  // the other kinds of this wait are stale now
    if (ready) ready();
  };
  using Wait = asio::posix::stream_descriptor::wait_type;
  if ((interest & kReadable) != 0) s.descriptor.async_wait(Wait::wait_read, done);
  if ((interest & kWritable) != 0) s.descriptor.async_wait(Wait::wait_write, done);
  if ((interest & kError) != 0) s.descriptor.async_wait(Wait::wait_error, done);
}

void EventLoop::FdWatch::cancel() noexcept {
  if (state_) state_->cancel();
}

bool EventLoop::FdWatch::waiting() const noexcept { return state_ && state_->waiting; }

void EventLoop::FdWatch::release() noexcept {
  if (!state_) return;
  auto state = std::move(state_);
  try {
    loop_->run_sync([&state] {
      state->cancel();
      (void)state->descriptor.release();  // the descriptor stays the caller's
    });
  } catch (const std::exception& e) {
    spdlog::error("event loop: stopping a descriptor watch failed: {}", e.what());
  }
}

// --- timers -------------------------------------------------------------------------------

struct EventLoop::Timer::State {
  explicit State(asio::io_context& context) : timer(context) {}
  asio::steady_timer timer;
  std::function<void()> handler;
  uint64_t generation = 0;  // as for FdWatch
  bool armed = false;

  void cancel() noexcept {
    ++generation;
    armed = false;
    handler = nullptr;
    try {
      timer.cancel();
    } catch (const std::exception& e) {  // cannot happen with the epoll reactor; never escape
      spdlog::error("event loop: cancelling a timer failed: {}", e.what());
    }
  }
};

EventLoop::Timer EventLoop::make_timer() {
  return Timer(this, std::make_shared<Timer::State>(impl_->context));
}

EventLoop::Timer::Timer(EventLoop* loop, std::shared_ptr<State> state) noexcept
    : loop_(loop), state_(std::move(state)) {}

EventLoop::Timer::Timer(Timer&& other) noexcept
    : loop_(std::exchange(other.loop_, nullptr)), state_(std::move(other.state_)) {}

EventLoop::Timer& EventLoop::Timer::operator=(Timer&& other) noexcept {
  if (this != &other) {
    release();
    loop_ = std::exchange(other.loop_, nullptr);
    state_ = std::move(other.state_);
  }
  return *this;
}

EventLoop::Timer::~Timer() { release(); }

void EventLoop::Timer::arm_at(Clock::time_point when, std::function<void()> handler) {
  if (!state_) throw Error("event loop: arming an empty timer");
  State& s = *state_;
  s.cancel();
  const uint64_t generation = s.generation;
  s.handler = std::move(handler);
  s.armed = true;
  s.timer.expires_at(when);
  s.timer.async_wait([state = state_, generation](const boost::system::error_code& ec) {
    if (ec || state->generation != generation || !state->armed) return;
    auto due = std::move(state->handler);
    state->cancel();
    if (due) due();
  });
}

void EventLoop::Timer::cancel() noexcept {
  if (state_) state_->cancel();
}

bool EventLoop::Timer::armed() const noexcept { return state_ && state_->armed; }

void EventLoop::Timer::release() noexcept {
  if (!state_) return;
  auto state = std::move(state_);
  try {
    loop_->run_sync([&state] { state->cancel(); });
  } catch (const std::exception& e) {
    spdlog::error("event loop: stopping a timer failed: {}", e.what());
  }
}

}  // namespace vmm
