#pragma once
// The VMM's device event loop: one Boost.Asio io_context on its own thread. Devices watch
// their queue-notify eventfds here (the transport registers them with KVM as ioeventfds, so a
// guest kick wakes this thread without exiting to user space) and do their work here, never
// on vCPU threads.
#include <functional>
#include <memory>
#include <thread>

namespace boost::asio {
class io_context;
}

namespace vmm {

class EventLoop final {
 public:
  // Starts the loop thread. Throws vmm::Error when it cannot.
  EventLoop();
  // Stops the loop and joins its thread. Every EventFdWatch must be gone by then.
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  [[nodiscard]] boost::asio::io_context& context() noexcept;
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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace vmm
