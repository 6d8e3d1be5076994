#pragma once
// The bridge between the host's terminal (stdin/stdout) and the guest's console device.
//
//  - TerminalRawMode: puts a TTY in raw mode for the VM's lifetime and restores it on destruction;
//    restore_terminal_from_signal() does the same from a fatal-signal handler.
//  - FdOutput: a SerialOutput that writes every byte to an fd (stdout: a TTY, pipe or file).
//  - ConsoleEscape: the "Ctrl-a x" escape filter.
//  - HostConsoleInput: a reader thread forwarding host input to the guest console.
//
// All of them take explicit fds, so tests drive them through pipes.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include "devices/legacy/serial.hpp"
#include "vmm/common/unique_fd.hpp"
#include "vmm/devices/vm_stopper.hpp"

namespace vmm {

// Restores the terminal saved by the live TerminalRawMode, if any. Async-signal-safe (one
// tcsetattr call): the VMM's SIGTERM/SIGINT/SIGHUP handlers call it before exiting.
void restore_terminal_from_signal() noexcept;

// Raw mode on a TTY, restored on every exit path. A no-op when `fd` is not a TTY (a pipe or file:
// scripted use). Only one may be live at a time (it is the process's terminal).
class TerminalRawMode final {
 public:
  explicit TerminalRawMode(int fd);
  TerminalRawMode(const TerminalRawMode&) = delete;
  TerminalRawMode& operator=(const TerminalRawMode&) = delete;
  ~TerminalRawMode();

  // Whether the terminal was switched to raw mode (false when fd is not a TTY).
  [[nodiscard]] bool active() const noexcept { return active_; }
  // Restores the terminal now; the destructor then does nothing.
  void restore() noexcept;

 private:
  int fd_;
  bool active_ = false;
};

// Writes guest output to an fd that it does not own. Nothing is buffered in user space, so
// nothing can be lost at exit; flush() waits for a TTY to drain. A failed write (stdout closed,
// disk full) drops the output with one warning instead of stopping the VM. The VMM must ignore
// SIGPIPE for a closed pipe to surface here as EPIPE.
class FdOutput final : public devices::SerialOutput {
 public:
  explicit FdOutput(int fd) noexcept : fd_(fd) {}

  void write(std::span<const uint8_t> bytes) override;
  void flush() override;

 private:
  int fd_;
  std::atomic<bool> failed_{false};
};

// Splits host input into bytes for the guest and escape commands. Ctrl-a x ends the VM
// (StopReason::kConsoleEscape); Ctrl-a Ctrl-a sends one Ctrl-a; Ctrl-a followed by any
// other byte sends both bytes unchanged. Ctrl-a at the end of a read waits for the next one.
class ConsoleEscape final {
 public:
  static constexpr uint8_t kEscapeByte = 0x01;  // Ctrl-a
  static constexpr uint8_t kQuitByte = 'x';

  struct Result {
    std::vector<uint8_t> to_guest;  // bytes before the quit command, or all of them
    bool quit = false;              // Ctrl-a x seen; bytes after it are discarded
  };
  [[nodiscard]] Result filter(std::span<const uint8_t> input);

 private:
  bool escape_pending_ = false;
};

// Where host input goes: returns how many leading bytes it accepted (0 when its queue is full).
// Serial::enqueue_input fits, and so does a virtio-console port.
using ConsoleInputSink = std::function<size_t(std::span<const uint8_t>)>;

// A thread reading `in_fd` (stdin) and pushing the bytes into `sink`. EOF on a pipe or file only
// ends reading: the VM keeps running. When the sink is full the thread retries every
// kRetryInterval (no busy loop) and does not read more meanwhile, so a paste or a piped file
// reaches the guest whole. stop() (and the destructor) wake the thread through an eventfd and
// join it promptly, even while it waits on an idle stdin or a full sink.
class HostConsoleInput final {
 public:
  struct Options {
    bool escape_sequences = true;  // honour Ctrl-a x / Ctrl-a Ctrl-a (TTY, pipe or file alike)
  };
  static constexpr int kRetryIntervalMs = 10;
  static constexpr size_t kReadChunk = 4096;

  // `stopper` must outlive this object. Starts the thread.
  HostConsoleInput(int in_fd, ConsoleInputSink sink, VmStopper& stopper, Options options);
  HostConsoleInput(int in_fd, ConsoleInputSink sink, VmStopper& stopper)
      : HostConsoleInput(in_fd, std::move(sink), stopper, Options{}) {}
  HostConsoleInput(const HostConsoleInput&) = delete;
  HostConsoleInput& operator=(const HostConsoleInput&) = delete;
  ~HostConsoleInput();

  // Ends the thread and waits for it. Idempotent; bytes not yet accepted by the sink are dropped.
  void stop() noexcept;

 private:
  void run();
  // Hands `bytes` to the sink, waiting while it is full. False when stop() interrupted it.
  bool deliver(std::span<const uint8_t> bytes);
  // Waits up to timeout_ms (-1: forever) for `fd` readable or a stop request. False on stop.
  bool wait(int fd, int timeout_ms);

  int in_fd_;
  ConsoleInputSink sink_;
  VmStopper& stopper_;
  Options options_;
  UniqueFd wake_fd_;  // eventfd written by stop()
  std::thread thread_;
};

}  // namespace vmm
