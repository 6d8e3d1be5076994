#pragma once
// virtio-console (virtio 1.2, 5.3) with a single port: receiveq 0 carries host input to the
// guest's /dev/hvc0, transmitq 1 carries guest output to a ConsoleOutput. Guest output is
// written to the sink as soon as the guest queues it, and whatever is still queued when the
// device is reset or destroyed is written then, so nothing the guest sent is lost at exit.
#include <array>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

#include "vmm/event_loop/event_loop.hpp"
#include "vmm/virtio/queue_device.hpp"

namespace vmm::virtio {

// Where guest console output goes (the host terminal, a pipe, a log file).
class ConsoleOutput {
 public:
  ConsoleOutput() = default;
  ConsoleOutput(const ConsoleOutput&) = delete;
  ConsoleOutput& operator=(const ConsoleOutput&) = delete;
  virtual ~ConsoleOutput() = default;

  virtual void write(std::span<const uint8_t> bytes) = 0;
  virtual void flush() {}
};

// Writes to a file descriptor it does not own (e.g. STDOUT_FILENO), retrying partial writes.
class FdConsoleOutput final : public ConsoleOutput {
 public:
  explicit FdConsoleOutput(int fd) noexcept : fd_(fd) {}
  void write(std::span<const uint8_t> bytes) override;

 private:
  int fd_;
};

inline constexpr unsigned kConsoleFeatureEmergWrite = 2;

class VirtioConsole final : public QueueDevice {
 public:
  static constexpr uint16_t kQueueSize = 256;
  static constexpr uint16_t kReceiveQueue = 0;
  static constexpr uint16_t kTransmitQueue = 1;
  // Host input held while the guest has no receive buffers; push_input() accepts up to this.
  static constexpr size_t kInputBufferSize = size_t{64} * 1024;

  // `output` and `loop` must outlive the device.
  VirtioConsole(ConsoleOutput& output, EventLoop& loop);
  ~VirtioConsole() override;

  [[nodiscard]] DeviceType device_type() const noexcept override { return DeviceType::kConsole; }
  [[nodiscard]] uint64_t features() const noexcept override;
  [[nodiscard]] std::span<const uint16_t> queue_max_sizes() const noexcept override {
    return queue_sizes_;
  }
  void read_config(uint64_t offset, std::span<uint8_t> data) override;
  // emerg_wr (offset 8): one character straight to the output.
  void write_config(uint64_t offset, std::span<const uint8_t> data) override;
  // Host input for the guest; thread-safe. Returns how many bytes were accepted (fewer than
  // offered when the buffer is full because the guest is not reading).
  size_t push_input(std::span<const uint8_t> bytes);

 private:
  void on_notify_locked(uint16_t queue) override;
  void stop_locked() override;
  void deliver_input_locked();
  void drain_output_locked();

  ConsoleOutput& output_;
  std::array<uint16_t, 2> queue_sizes_{kQueueSize, kQueueSize};
  std::vector<uint8_t> pending_input_;  // under mutex()
};

}  // namespace vmm::virtio
