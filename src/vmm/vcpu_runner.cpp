#include "vmm/vcpu_runner.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <utility>

#include "vmm/arch/arch.hpp"
#include "vmm/common/error.hpp"
#include "vmm/confine/thread_seccomp.hpp"

namespace vmm {
namespace {

int kick_signal() { return SIGRTMIN; }

// Interrupting KVM_RUN only needs the signal to be delivered; there is nothing to do in it.
void on_kick(int /*sig*/) {}

}  // namespace

void VcpuRunner::install_kick_signal() {
  struct sigaction sa {};
  sa.sa_handler = on_kick;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
  if (::sigaction(kick_signal(), &sa, nullptr) != 0) throw system_error("sigaction", errno);
}

VcpuRunner::VcpuRunner(uint32_t index, kvm::VcpuFd vcpu, const Bus& pio, const Bus& mmio,
                       VmStopper& stopper)
    : index_(index), vcpu_(std::move(vcpu)), pio_(pio), mmio_(mmio), stopper_(stopper) {}

VcpuRunner::~VcpuRunner() {
  stop();
  join();
}

void VcpuRunner::start() {
  running_.store(true);
  thread_ = std::thread([this] { loop(); });
  const std::string name = "vcpu" + std::to_string(index_);
  ::pthread_setname_np(thread_.native_handle(), name.c_str());
}

void VcpuRunner::stop() noexcept {
  {
    std::lock_guard lock(park_mutex_);
    stopping_.store(true, std::memory_order_release);
    // immediate_exit covers a thread that is about to enter KVM_RUN; the signal one inside it.
    vcpu_.set_immediate_exit(true);
  }
  park_cv_.notify_all();
  if (thread_.joinable() && running_.load()) ::pthread_kill(thread_.native_handle(), kick_signal());
}

void VcpuRunner::request_pause() noexcept {
  {
    std::lock_guard lock(park_mutex_);
    pause_requested_ = true;
    vcpu_.set_immediate_exit(true);
  }
  if (thread_.joinable() && running_.load()) ::pthread_kill(thread_.native_handle(), kick_signal());
}

void VcpuRunner::wait_parked() {
  std::unique_lock lock(park_mutex_);
  park_cv_.wait(lock, [this] { return parked_ || !running_.load() || !pause_requested_; });
}

void VcpuRunner::resume() noexcept {
  {
    std::lock_guard lock(park_mutex_);
    pause_requested_ = false;
  }
  park_cv_.notify_all();
}

bool VcpuRunner::park_if_paused() {
  std::unique_lock lock(park_mutex_);
  if (stopping_.load()) return false;
  const bool pause = pause_requested_;
  if (pause) {
    parked_ = true;
    park_cv_.notify_all();
    park_cv_.wait(lock, [this] { return !pause_requested_ || stopping_.load(); });
    parked_ = false;
    if (stopping_.load()) return false;
  }
  // Under the lock, so a stop() after this sets immediate_exit again; it also clears one left
  // by a pause that was withdrawn before this thread saw it.
  vcpu_.set_immediate_exit(false);
  if (pause) vcpu_.notify_guest_paused();
  return true;
}

void VcpuRunner::join() noexcept {
  if (thread_.joinable()) thread_.join();
}

void VcpuRunner::handle_io(const kvm::VcpuExit& exit) {
  // String I/O: `count` items of data.size()/count bytes each, all at the same port.
  const size_t item = exit.count == 0 ? 0 : exit.data.size() / exit.count;
  for (uint32_t i = 0; i < exit.count && item != 0; ++i) {
    auto chunk = exit.data.subspan(i * item, item);
    if (exit.kind == kvm::VcpuExit::Kind::kIoIn) {
      (void)pio_.read(exit.address, chunk);
    } else {
      (void)pio_.write(exit.address, chunk);
    }
  }
}

void VcpuRunner::fail(std::string message) {
  spdlog::error("{}", message);
  stopper_.request_stop({.reason = StopReason::kError, .error = std::move(message)});
}

void VcpuRunner::loop() noexcept {
  using Kind = kvm::VcpuExit::Kind;
  confine::confine_this_thread(confine::ThreadKind::kVcpu);
  try {
    while (!stopping_.load(std::memory_order_acquire)) {
      const kvm::VcpuExit exit = vcpu_.run();
      exit_stats_.count(exit.kind, exit.address);
      switch (exit.kind) {
        case Kind::kIoIn:
        case Kind::kIoOut:
          handle_io(exit);
          break;
        case Kind::kMmioRead:
          (void)mmio_.read(exit.address, exit.data);
          break;
        case Kind::kMmioWrite:
          (void)mmio_.write(exit.address, exit.data);
          break;
        case Kind::kInterrupted:  // a kick: stop or pause (only these take the lock)
          if (!park_if_paused()) stopping_ = true;
          break;
        case Kind::kHlt:  // only without an in-kernel LAPIC: nothing to do but run again
          break;
        case Kind::kShutdown:
          spdlog::info("vcpu{}: triple fault, the guest reset itself", index_);
          stopper_.request_stop({.reason = StopReason::kGuestReset});
          stopping_ = true;
          break;
        case Kind::kSystemReset:
          stopper_.request_stop({.reason = StopReason::kGuestReset});
          stopping_ = true;
          break;
        case Kind::kSystemShutdown:
          stopper_.request_stop({.reason = StopReason::kGuestPowerOff});
          stopping_ = true;
          break;
        case Kind::kFailEntry:
          fail(fmt::format("vcpu{}: KVM refused to enter the guest (hardware reason {:#x})", index_,
                           exit.detail));
          stopping_ = true;
          break;
        case Kind::kInternalError:
          fail(fmt::format("vcpu{}: KVM internal error (suberror {})", index_, exit.detail));
          stopping_ = true;
          break;
        case Kind::kUnknown:
          fail(fmt::format("vcpu{}: unexpected KVM exit reason {}", index_, exit.raw_reason));
          stopping_ = true;
          break;
      }
    }
  } catch (const std::exception& e) {
    fail(fmt::format("vcpu{}: {}", index_, e.what()));
  }
  if (spdlog::should_log(spdlog::level::debug)) {
    try {
      spdlog::debug("vcpu{}: stopped at {}", index_, arch::vcpu_state_summary(vcpu_));
    } catch (const std::exception&) {
    }
  }
  {
    std::lock_guard lock(park_mutex_);
    running_.store(false);
  }
  park_cv_.notify_all();
}

}  // namespace vmm
