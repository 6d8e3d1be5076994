#include "vmm/host_console.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/recording_stopper.hpp"
#include "vmm/common/error.hpp"
#include "vmm/common/unique_fd.hpp"

namespace vmm {
namespace {

using test::RecordingStopper;

using namespace std::chrono_literals;

struct Pipe {
  Pipe() {
    std::array<int, 2> fds{};
    EXPECT_EQ(::pipe2(fds.data(), O_CLOEXEC), 0);
    read_end.reset(fds[0]);
    write_end.reset(fds[1]);
  }
  void send(const std::string& s) const {
    ASSERT_EQ(::write(write_end.get(), s.data(), s.size()), static_cast<ssize_t>(s.size()));
  }
  UniqueFd read_end;
  UniqueFd write_end;
};

// A guest console with a bounded queue, like the serial's host queue.
class FakeConsole {
 public:
  explicit FakeConsole(size_t capacity = SIZE_MAX) : capacity_(capacity) {}
  size_t accept(std::span<const uint8_t> bytes) {
    std::lock_guard lock(mutex_);
    ++calls_;
    const size_t n = std::min(bytes.size(), capacity_ - std::min(capacity_, data_.size()));
    data_.append(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    cv_.notify_all();
    return n;
  }
  bool wait_for(const std::string& expected, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return data_ == expected; });
  }
  void set_capacity(size_t capacity) {
    std::lock_guard lock(mutex_);
    capacity_ = capacity;
  }
  std::string data() {
    std::lock_guard lock(mutex_);
    return data_;
  }
  size_t calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  ConsoleInputSink sink() {
    return [this](std::span<const uint8_t> b) { return accept(b); };
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::string data_;
  size_t capacity_;
  size_t calls_ = 0;
};

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

TEST(ConsoleEscape, PassesPlainBytes) {
  ConsoleEscape escape;
  const auto r = escape.filter(bytes_of("ls -l\r"));
  EXPECT_EQ(r.to_guest, bytes_of("ls -l\r"));
  EXPECT_FALSE(r.quit);
}

TEST(ConsoleEscape, CtrlAXQuitsAndDropsTheRest) {
  ConsoleEscape escape;
  const auto r = escape.filter(bytes_of("ab\x01xcd"));
  EXPECT_EQ(r.to_guest, bytes_of("ab"));
  EXPECT_TRUE(r.quit);
}

TEST(ConsoleEscape, DoubleCtrlASendsOne) {
  ConsoleEscape escape;
  const auto r = escape.filter(bytes_of("\x01\x01x"));
  EXPECT_EQ(r.to_guest, bytes_of("\x01x"));
  EXPECT_FALSE(r.quit);
}

TEST(ConsoleEscape, OtherByteAfterCtrlAPassesBoth) {
  ConsoleEscape escape;
  EXPECT_EQ(escape.filter(bytes_of("\x01q")).to_guest, bytes_of("\x01q"));
}

TEST(ConsoleEscape, SequenceSplitAcrossReads) {
  ConsoleEscape escape;
  const auto first = escape.filter(bytes_of("a\x01"));
  EXPECT_EQ(first.to_guest, bytes_of("a"));
  EXPECT_FALSE(first.quit);
  EXPECT_TRUE(escape.filter(bytes_of("x")).quit);
}

TEST(HostConsoleInput, BytesThroughPipeReachSink) {
  Pipe pipe;
  RecordingStopper stopper;
  FakeConsole console;
  HostConsoleInput input(pipe.read_end.get(), console.sink(), stopper);
  pipe.send("echo hello\n");
  EXPECT_TRUE(console.wait_for("echo hello\n", 5s)) << console.data();
  pipe.send("\x01\x01");
  EXPECT_TRUE(console.wait_for("echo hello\n\x01", 5s));
  EXPECT_TRUE(stopper.requests().empty());
}

TEST(HostConsoleInput, CtrlAXStopsVm) {
  Pipe pipe;
  RecordingStopper stopper;
  FakeConsole console;
  HostConsoleInput input(pipe.read_end.get(), console.sink(), stopper);
  pipe.send("bye\x01x");
  ASSERT_TRUE(stopper.wait_for_request(5s));
  EXPECT_EQ(stopper.requests()[0].reason, StopReason::kConsoleEscape);
  EXPECT_EQ(console.data(), "bye");
}

TEST(HostConsoleInput, EscapesCanBeDisabled) {
  Pipe pipe;
  RecordingStopper stopper;
  FakeConsole console;
  HostConsoleInput input(pipe.read_end.get(), console.sink(), stopper,
                         HostConsoleInput::Options{.escape_sequences = false});
  pipe.send("\x01x");
  EXPECT_TRUE(console.wait_for("\x01x", 5s));
  EXPECT_TRUE(stopper.requests().empty());
}

TEST(HostConsoleInput, EofDoesNotStopVm) {
  RecordingStopper stopper;
  FakeConsole console;
  auto pipe = std::make_unique<Pipe>();
  HostConsoleInput input(pipe->read_end.get(), console.sink(), stopper);
  pipe->send("last");
  pipe->write_end.reset();  // EOF
  EXPECT_TRUE(console.wait_for("last", 5s));
  EXPECT_FALSE(stopper.wait_for_request(100ms));
  const auto start = std::chrono::steady_clock::now();
  input.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(HostConsoleInput, WaitsWhileSinkIsFull) {
  Pipe pipe;
  RecordingStopper stopper;
  FakeConsole console(4);
  HostConsoleInput input(pipe.read_end.get(), console.sink(), stopper);
  pipe.send("0123456789");
  EXPECT_TRUE(console.wait_for("0123", 5s));
  std::this_thread::sleep_for(100ms);
  // Retries are spaced out (about one per 10 ms), not a busy loop.
  EXPECT_LT(console.calls(), 40u);
  console.set_capacity(100);
  EXPECT_TRUE(console.wait_for("0123456789", 5s));
}

TEST(HostConsoleInput, StopsPromptlyWhileIdleOrBlocked) {
  for (const size_t capacity : {size_t{100}, size_t{0}}) {
    Pipe pipe;
    RecordingStopper stopper;
    FakeConsole console(capacity);
    auto input = std::make_unique<HostConsoleInput>(pipe.read_end.get(), console.sink(), stopper);
    pipe.send("stuck");  // with capacity 0 the thread waits on the sink forever
    std::this_thread::sleep_for(50ms);
    const auto start = std::chrono::steady_clock::now();
    input.reset();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s) << "capacity " << capacity;
    EXPECT_TRUE(stopper.requests().empty());
  }
}

TEST(HostConsoleInput, StopIsIdempotent) {
  Pipe pipe;
  RecordingStopper stopper;
  FakeConsole console;
  HostConsoleInput input(pipe.read_end.get(), console.sink(), stopper);
  input.stop();
  input.stop();
  SUCCEED();
}

TEST(FdOutput, WritesEverythingThroughAPipe) {
  Pipe pipe;
  // Bigger than a pipe's buffer, so write() must loop while the reader drains.
  std::string payload(1 << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  std::string received;
  std::thread reader([&] {
    std::array<char, 65536> buf{};
    for (;;) {
      const ssize_t n = ::read(pipe.read_end.get(), buf.data(), buf.size());
      if (n <= 0) break;
      received.append(buf.data(), static_cast<size_t>(n));
    }
  });
  FdOutput output(pipe.write_end.get());
  output.write(std::span(reinterpret_cast<const uint8_t*>(payload.data()), payload.size()));
  output.flush();
  pipe.write_end.reset();
  reader.join();
  EXPECT_EQ(received.size(), payload.size());
  EXPECT_TRUE(received == payload);
}

TEST(FdOutput, NonBlockingFdIsWaitedOn) {
  Pipe pipe;
  ASSERT_EQ(::fcntl(pipe.write_end.get(), F_SETFL, O_NONBLOCK), 0);
  const std::string payload(300000, 'n');
  size_t received = 0;
  std::thread reader([&] {
    std::array<char, 4096> buf{};
    for (;;) {
      std::this_thread::sleep_for(1ms);  // slower than the writer: EAGAIN happens
      const ssize_t n = ::read(pipe.read_end.get(), buf.data(), buf.size());
      if (n <= 0) break;
      received += static_cast<size_t>(n);
    }
  });
  FdOutput output(pipe.write_end.get());
  output.write(std::span(reinterpret_cast<const uint8_t*>(payload.data()), payload.size()));
  pipe.write_end.reset();
  reader.join();
  EXPECT_EQ(received, payload.size());
}

TEST(FdOutput, ClosedReaderDoesNotCrash) {
  Pipe pipe;
  pipe.read_end.reset();
  ::signal(SIGPIPE, SIG_IGN);  // as the VMM does
  FdOutput output(pipe.write_end.get());
  const std::array<uint8_t, 3> b{'a', 'b', 'c'};
  output.write(b);
  output.write(b);
  SUCCEED();
}

TEST(TerminalRawMode, NoOpOnPipe) {
  Pipe pipe;
  TerminalRawMode raw(pipe.read_end.get());
  EXPECT_FALSE(raw.active());
  restore_terminal_from_signal();  // nothing saved: must do nothing
}

// A pseudo-terminal stands in for the user's TTY.
struct Pty {
  Pty() {
    master.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    EXPECT_TRUE(master.valid());
    EXPECT_EQ(::grantpt(master.get()), 0);
    EXPECT_EQ(::unlockpt(master.get()), 0);
    const char* name = ::ptsname(master.get());
    EXPECT_NE(name, nullptr);
    if (name != nullptr) slave.reset(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
    EXPECT_TRUE(slave.valid());
  }
  [[nodiscard]] tcflag_t lflag() const {
    termios t{};
    EXPECT_EQ(::tcgetattr(slave.get(), &t), 0);
    return t.c_lflag;
  }
  UniqueFd master;
  UniqueFd slave;
};

TEST(TerminalRawMode, RawWhileAliveRestoredAfter) {
  Pty pty;
  ASSERT_NE(pty.lflag() & ICANON, 0u);
  {
    TerminalRawMode raw(pty.slave.get());
    EXPECT_TRUE(raw.active());
    EXPECT_EQ(pty.lflag() & (ICANON | ECHO | ISIG), 0u);
    EXPECT_THROW(TerminalRawMode second(pty.slave.get()), Error);
  }
  EXPECT_NE(pty.lflag() & (ICANON | ECHO | ISIG), 0u);
}

TEST(TerminalRawMode, SignalPathRestores) {
  Pty pty;
  TerminalRawMode raw(pty.slave.get());
  ASSERT_EQ(pty.lflag() & ICANON, 0u);
  restore_terminal_from_signal();
  EXPECT_NE(pty.lflag() & ICANON, 0u);
}

}  // namespace
}  // namespace vmm
