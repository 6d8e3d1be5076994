#pragma once
// The per-VM REST API's routes, after Cloud Hypervisor's for the subset vmm has:
//   GET /api/v1/vmm.ping      {"version", "build_version", "pid", "features"}
//   GET /api/v1/vm.info       {"state", "config", "devices", "memory_actual_size"} and, with
//                             a vsock device, "vsock": {"cid", "socket"} (absolute path)
//   PUT /api/v1/vm.pause      204; 409 unless running
//   PUT /api/v1/vm.resume     204; 409 unless paused
//   PUT /api/v1/vm.shutdown   204; the VM stops now (the process then exits 0)
//   PUT /api/v1/vm.power-button  204; the guest sees an ACPI power-button press; 409 unless
//                             running
//   GET /api/v1/vm.counters   {"disk0": {"read_ops": N, ...}, "net0": {...}}
// Unknown paths are 404, a known path with the wrong method 405 (with Allow), a body that is
// not empty and not a JSON object 400. Every error body is {"error": "..."}.
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "api/api_types.hpp"
#include "vmm/vm.hpp"

namespace vmm::api {

// What the routes need from a VM. The Vm adapter implements it; tests and fuzzers use fakes.
class VmControl {
 public:
  VmControl() = default;
  VmControl(const VmControl&) = delete;
  VmControl& operator=(const VmControl&) = delete;
  virtual ~VmControl() = default;

  [[nodiscard]] virtual VmState state() const = 0;
  virtual void pause() = 0;         // throws vmm::StateError when the state does not allow it
  virtual void resume() = 0;        // likewise
  virtual void shutdown() = 0;      // asks the VM to stop; never fails
  virtual void power_button() = 0;  // throws vmm::StateError unless running
  [[nodiscard]] virtual nlohmann::json config() const = 0;
  [[nodiscard]] virtual std::vector<VmDeviceInfo> devices() const = 0;
  [[nodiscard]] virtual uint64_t memory_bytes() const = 0;
  // The vsock device's CID and socket (absolute), when the VM has one.
  [[nodiscard]] virtual std::optional<VsockConfig> vsock() const { return std::nullopt; }
  // The vCPUs' exits by kind and the most frequent ports and addresses.
  [[nodiscard]] virtual ExitSummary exits() const { return {}; }
};

// Cloud Hypervisor's names for the VM states: Created, Running, Paused, Shutdown.
[[nodiscard]] const char* api_state_name(VmState state) noexcept;

// Answers one request: every failure becomes an error response (only running out of memory
// while building one can throw).
[[nodiscard]] ApiResponse dispatch(VmControl& vm, const ApiRequest& request);

// The adapter over a real VM; `vm` must outlive it.
[[nodiscard]] std::unique_ptr<VmControl> make_vm_control(Vm& vm);

}  // namespace vmm::api
