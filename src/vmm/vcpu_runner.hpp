#pragma once
// One host thread per vCPU running KVM_RUN and dispatching exits to the buses.
#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "vmm/bus/bus.hpp"
#include "vmm/devices/vm_stopper.hpp"
#include "vmm/kvm/vcpu_fd.hpp"

namespace vmm {

class VcpuRunner final {
 public:
  VcpuRunner(uint32_t index, kvm::VcpuFd vcpu, const Bus& pio, const Bus& mmio, VmStopper& stopper);
  VcpuRunner(const VcpuRunner&) = delete;
  VcpuRunner& operator=(const VcpuRunner&) = delete;
  ~VcpuRunner();  // stops and joins the thread

  void start();
  // Asks the thread to leave KVM_RUN and end; returns at once. Idempotent.
  void stop() noexcept;
  void join() noexcept;

  [[nodiscard]] kvm::VcpuFd& vcpu() noexcept { return vcpu_; }

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
  std::atomic<bool> stopping_{false};
  std::atomic<bool> running_{false};
  std::thread thread_;
};

}  // namespace vmm
