#pragma once
// One host thread per vCPU running KVM_RUN and dispatching exits to the buses.
#include <pthread.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "vmm/bus/bus.hpp"
#include "vmm/devices/vm_stopper.hpp"
#include "vmm/exit_stats.hpp"
#include "vmm/kvm/vcpu_fd.hpp"

namespace vmm {

class VcpuRunner final {
 public:
  VcpuRunner(uint32_t index, kvm::VcpuFd vcpu, const Bus& pio, const Bus& mmio, VmStopper& stopper);
  VcpuRunner(const VcpuRunner&) = delete;
  VcpuRunner& operator=(const VcpuRunner&) = delete;
  ~VcpuRunner();  // stops and joins the thread

  void start();
  // Asks the thread to leave KVM_RUN and end; returns at once. Idempotent; wakes a parked
  // thread too.
  void stop() noexcept;
  void join() noexcept;

  // Asks the thread to leave KVM_RUN and park outside it; returns at once.
  void request_pause() noexcept;
  // Waits until the thread is parked (or has ended).
  void wait_parked();
  // Lets a parked thread run the guest again; the guest is told it was stopped (kvm-clock).
  void resume() noexcept;

  [[nodiscard]] kvm::VcpuFd& vcpu() noexcept { return vcpu_; }
  // What this vCPU's exits were; any thread.
  [[nodiscard]] const ExitStats& exit_stats() const noexcept { return exit_stats_; }

  // Installs the no-op handler of the signal that kicks vCPU threads out of KVM_RUN.
  // Called once, before any vCPU thread starts.
  static void install_kick_signal();

 private:
  void loop() noexcept;
  void handle_io(const kvm::VcpuExit& exit);
  // Logs `message` and asks for the VM to end with it as the error.
  void fail(std::string message);

  uint32_t index_;
  kvm::VcpuFd vcpu_;
  const Bus& pio_;
  const Bus& mmio_;
  VmStopper& stopper_;
  ExitStats exit_stats_;
  // Parks the thread while a pause is asked; false when it should end instead.
  bool park_if_paused();

  std::atomic<bool> stopping_{false};
  std::atomic<bool> running_{false};
  std::mutex park_mutex_;  // orders pause/resume/stop against the thread's immediate_exit
  std::condition_variable park_cv_;
  bool pause_requested_ = false;
  bool parked_ = false;
  std::thread thread_;
};

}  // namespace vmm
