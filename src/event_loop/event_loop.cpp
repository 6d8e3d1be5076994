#include "vmm/event_loop/event_loop.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <future>
#include <mutex>
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

asio::io_context& EventLoop::context() noexcept { return impl_->context; }

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

}  // namespace vmm
