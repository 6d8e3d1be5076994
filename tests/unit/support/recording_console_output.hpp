#pragma once
// A virtio ConsoleOutput that keeps everything the guest wrote.
#include <atomic>
#include <mutex>
#include <span>
#include <string>

#include "vmm/virtio/console_device.hpp"

namespace vmm::virtio::testing {

class RecordingConsoleOutput final : public ConsoleOutput {
 public:
  void write(std::span<const uint8_t> bytes) override {
    std::lock_guard lock(mutex_);
    text_.append(bytes.begin(), bytes.end());
  }
  void flush() override { ++flushes_; }
  [[nodiscard]] std::string text() {
    std::lock_guard lock(mutex_);
    return text_;
  }
  [[nodiscard]] int flushes() const noexcept { return flushes_.load(); }

 private:
  std::mutex mutex_;
  std::string text_;
  std::atomic<int> flushes_{0};
};

}  // namespace vmm::virtio::testing
