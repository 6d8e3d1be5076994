#pragma once
// A whole virtual machine as a runtime object: KVM objects, guest memory, buses, devices and
// vCPU threads, built from a VmConfig. Construction either yields a VM ready to start or throws
// and leaves nothing behind (every part is an RAII member, destroyed in reverse order).
//
// The VM knows nothing of the process around it: no signals, no terminal modes, no timers, no
// exit statuses. Its owner (the CLI, a test, later a daemon) chooses where the console goes,
// starts it, asks it to stop from any thread, and learns from wait() what happened.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vmm/config/vm_config.hpp"
#include "vmm/devices/vm_stopper.hpp"
#include "vmm/exit_stats.hpp"
#include "vmm/virtio/virtio_device.hpp"

namespace vmm {

// Where the guest's console meets the host. The owner keeps the fds open for the VM's life.
struct ConsoleIo {
  int output_fd = 1;              // the guest's console output (serial, or hvc0 with virtio)
  int input_fd = 0;               // bytes for the guest's console; -1 for none
  int serial_output_fd = -1;      // ttyS0's output when it differs from output_fd (else -1)
  bool escape_sequences = false;  // Ctrl-a x on the input ends the VM (for a terminal)
};

enum class VmState { kCreated, kRunning, kPaused, kShutdown };

// One device of the VM's inventory.
struct VmDeviceInfo {
  std::string id;         // disk0, disk1, net0, vsock0, share0, console0: stable for the VM's life
  std::string kind;       // virtio-blk, virtio-net, virtio-vsock, virtio-9p, virtio-console
  std::string transport;  // pci or mmio
  virtio::DeviceCounters counters;
};
[[nodiscard]] const char* to_string(VmState state) noexcept;

class Vm final {
 public:
  Vm(const VmConfig& config, ConsoleIo console);
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;
  ~Vm();  // stops a VM still running and waits for its threads

  // Starts the vCPU threads and the console input. Once; throws if the VM was started before.
  void start();

  // Asks the VM to stop (StopReason::kRequested). Any thread, any time; a request after the
  // first one, or after the guest itself stopped, changes nothing.
  void request_stop();

  // Presses the ACPI power button: the guest sees a power-button event (systemd-logind or
  // acpid then shut it down, and its power-off ends the VM). Throws StateError unless running.
  void press_power_button();

  // Parks every vCPU outside KVM_RUN and holds the device event loop, so no guest code runs
  // and no virtqueue is touched; a paused VM uses no CPU. Returns once all of that holds.
  // Throws StateError unless the VM is running.
  void pause();
  // Lets a paused VM run again; the guest's kvm-clock is told its vCPUs were stopped, so it
  // does not take the pause for a hang. Throws StateError unless the VM is paused.
  void resume();

  // Readable (poll) from the moment the VM wants to stop until it is destroyed.
  [[nodiscard]] int stop_event_fd() const noexcept;

  // Waits until a stop is requested (by the guest, a device, an error or request_stop), then
  // stops the vCPUs and devices and flushes the console. Every call returns the same outcome.
  VmOutcome wait();

  [[nodiscard]] VmState state() const noexcept;
  [[nodiscard]] const VmConfig& config() const noexcept;
  // The vsock device's CID and Unix socket (as an absolute path), when it has one.
  [[nodiscard]] std::optional<VsockConfig> vsock() const;
  // The virtio devices with a snapshot of their counters; any thread.
  [[nodiscard]] std::vector<VmDeviceInfo> devices() const;
  // Every vCPU's exits so far by kind, and the `top` most frequent ports and addresses.
  [[nodiscard]] ExitSummary exits(std::size_t top = 16) const;

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace vmm
