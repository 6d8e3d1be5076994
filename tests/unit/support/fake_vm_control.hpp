#pragma once
// A VmControl with the real state rules (pause only when running, resume only when paused)
// and canned config, devices and counters, for API tests and fuzzing.
#include <atomic>

#include "api/vm_api.hpp"
#include "vmm/common/error.hpp"

namespace vmm::test {

class FakeVmControl final : public api::VmControl {
 public:
  [[nodiscard]] VmState state() const override { return state_.load(); }
  void pause() override {
    if (state_ != VmState::kRunning) throw StateError("cannot pause: not running");
    state_ = VmState::kPaused;
  }
  void resume() override {
    if (state_ != VmState::kPaused) throw StateError("cannot resume: not paused");
    state_ = VmState::kRunning;
  }
  void shutdown() override { state_ = VmState::kShutdown; }
  void power_button() override {
    if (state_ != VmState::kRunning) throw StateError("cannot press the power button: not running");
    ++power_button_presses;
  }
  int power_button_presses = 0;
  [[nodiscard]] nlohmann::json config() const override { return {{"cpus", 2}}; }
  [[nodiscard]] std::vector<VmDeviceInfo> devices() const override {
    return {VmDeviceInfo{.id = "disk0",
                         .kind = "virtio-blk",
                         .transport = "pci",
                         .counters = {{"read_ops", 7}, {"write_ops", 3}}}};
  }
  [[nodiscard]] uint64_t memory_bytes() const override { return 256ULL << 20; }
  [[nodiscard]] std::optional<VsockConfig> vsock() const override { return vsock_config; }
  std::optional<VsockConfig> vsock_config;

 private:
  std::atomic<VmState> state_{VmState::kRunning};
};

}  // namespace vmm::test
