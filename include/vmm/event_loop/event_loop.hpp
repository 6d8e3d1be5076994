#pragma once
// The VMM's device event loop: one Boost.Asio io_context on its own thread. Devices watch
// their queue-notify eventfds here (the transport registers them with KVM as ioeventfds, so a
// guest kick wakes this thread without exiting to user space) and do their work here, never
// on vCPU threads.
//
// Everything a device needs from the loop is here (eventfd watches, descriptor readiness,
// timers, posting work), so no device reaches for the Asio context underneath.
#include <chrono>
#include <functional>
#include <memory>
#include <thread>
#include <utility>

namespace vmm {

class EventLoop final {
 public:
  // Starts the loop thread. Throws vmm::Error when it cannot.
  EventLoop();
  // Stops the loop and joins its thread. Every EventFdWatch must be gone by then.
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  [[nodiscard]] bool in_loop_thread() const noexcept;

  // Holds the loop thread until resume(): once pause() returns, no handler runs and nothing
  // posted runs, so devices touch no queue. Not from the loop thread. Idempotent.
  void pause();
  // Lets the loop run again (everything that arrived meanwhile is handled then). Idempotent.
  void resume() noexcept;

  // Runs `fn` on the loop thread later.
  void post(std::function<void()> fn);
  // Runs `fn` on the loop thread and waits for it; inline when called from the loop thread.
  // Exceptions from `fn` propagate to the caller.
  void run_sync(const std::function<void()>& fn);

  // Calls a handler on the loop thread each time an eventfd is signalled (its counter is read
  // and cleared first). Destroying the watch stops it; once the destructor returns, the
  // handler is not running and will not run again, so it may capture its owner.
  class EventFdWatch final {
   public:
    EventFdWatch() noexcept = default;
    EventFdWatch(EventFdWatch&&) noexcept;
    EventFdWatch& operator=(EventFdWatch&&) noexcept;
    EventFdWatch(const EventFdWatch&) = delete;
    EventFdWatch& operator=(const EventFdWatch&) = delete;
    ~EventFdWatch();
    void stop() noexcept;
    [[nodiscard]] bool active() const noexcept { return state_ != nullptr; }

    struct State;  // opaque; defined in event_loop.cpp

   private:
    friend class EventLoop;
    EventFdWatch(EventLoop* loop, std::shared_ptr<State> state) noexcept;
    EventLoop* loop_ = nullptr;
    std::shared_ptr<State> state_;
  };

  // `eventfd` is duplicated; the caller keeps ownership of its descriptor.
  // Throws vmm::Error when the descriptor cannot be watched.
  [[nodiscard]] EventFdWatch watch_eventfd(int eventfd, std::function<void()> handler);

  // What a descriptor wait asks for; a wait completes on the first that holds.
  enum Readiness : unsigned { kReadable = 1U, kWritable = 2U, kError = 4U };

  // Readiness of a descriptor the caller owns, one wait at a time (the caller re-arms when it
  // wants more, e.g. only while it has somewhere to put what it reads). wait() and cancel()
  // run on the loop thread. A cancelled or replaced wait never calls its handler; once the
  // destructor returns, no handler of this watch runs, and the descriptor is left open.
  class FdWatch final {
   public:
    FdWatch() noexcept = default;
    FdWatch(FdWatch&&) noexcept;
    FdWatch& operator=(FdWatch&&) noexcept;
    FdWatch(const FdWatch&) = delete;
    FdWatch& operator=(const FdWatch&) = delete;
    ~FdWatch();

    // Calls `handler` once, on the loop thread, when the descriptor is ready for any of
    // `interest` (a set of Readiness bits). Replaces a pending wait.
    void wait(unsigned interest, std::function<void()> handler);
    void cancel() noexcept;
    [[nodiscard]] bool waiting() const noexcept;
    [[nodiscard]] bool active() const noexcept { return state_ != nullptr; }

    struct State;  // opaque; defined in event_loop.cpp

   private:
    friend class EventLoop;
    FdWatch(EventLoop* loop, std::shared_ptr<State> state) noexcept;
    void release() noexcept;
    EventLoop* loop_ = nullptr;
    std::shared_ptr<State> state_;
  };

  // `fd` stays the caller's and must stay open while the watch exists. A descriptor may be
  // watched once at a time. Throws vmm::Error when it cannot be watched.
  [[nodiscard]] FdWatch watch_fd(int fd);

  // A one-shot timer on the steady clock; arm() and cancel() run on the loop thread. A
  // cancelled or re-armed timer never calls the old handler; once the destructor returns,
  // no handler of this timer runs.
  class Timer final {
   public:
    using Clock = std::chrono::steady_clock;
    Timer() noexcept = default;
    Timer(Timer&&) noexcept;
    Timer& operator=(Timer&&) noexcept;
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;
    ~Timer();

    void arm_at(Clock::time_point when, std::function<void()> handler);
    void arm_after(Clock::duration delay, std::function<void()> handler) {
      arm_at(Clock::now() + delay, std::move(handler));
    }
    void cancel() noexcept;
    [[nodiscard]] bool armed() const noexcept;

    struct State;  // opaque; defined in event_loop.cpp

   private:
    friend class EventLoop;
    Timer(EventLoop* loop, std::shared_ptr<State> state) noexcept;
    void release() noexcept;
    EventLoop* loop_ = nullptr;
    std::shared_ptr<State> state_;
  };

  [[nodiscard]] Timer make_timer();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace vmm
