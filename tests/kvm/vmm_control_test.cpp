// Controlling a running VM from outside the guest: termination signals to the vmm process (exit
// status, console flush, terminal restore) and the VM runtime object driven in-process.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kvm_test_env.hpp"
#include "kvm_test_support.hpp"
#include "subprocess.hpp"
#include "vmm/common/error.hpp"
#include "vmm/common/unique_fd.hpp"
#include "vmm/vm.hpp"

namespace vmm::test {
namespace {

using namespace std::chrono_literals;

// Boot messages are wanted here (no `quiet`): they are the first console output, early enough
// to signal a VM that is still booting.
constexpr const char* kVerboseCmdline = "console=ttyS0 reboot=k panic=-1 pci=noearly";
constexpr const char* kQuietCmdline = "console=ttyS0 reboot=k panic=-1 quiet pci=noearly";

std::string with_extra(std::string cmdline) {
  const auto& extra = KvmTestEnv::get().cmdline_extra;
  if (!extra.empty()) cmdline += " " + extra;
  return cmdline;
}

std::vector<std::string> vmm_argv(const std::string& cmdline) {
  const KvmTestEnv& env = KvmTestEnv::get();
  return {env.vmm_bin, "run",   "--kernel", env.kernel, "--initrd", env.initrd,
          "--cmdline", cmdline, "--cpus",   "1",        "--memory", "256M"};
}

using VmmControlTest = KvmTest;

// Whether process `pid` has a thread named `name` (vmm names its vCPU threads vcpu0, vcpu1...).
bool has_thread(pid_t pid, const std::string& name) {
  std::error_code ec;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string line;
    if (std::getline(comm, line) && line == name) return true;
  }
  return false;
}

// The termination signals are blocked before any thread starts, so a SIGTERM is always taken
// by the thread that reads them, whichever thread the kernel picks for it (vCPU, event loop,
// block I/O): vmm exits by itself with 128 + 15, never by the signal's default action. Sent at
// a different moment of the boot each time, 20 times over.
TEST_F(VmmControlTest, SigtermAlwaysEndsVmWithStatus143) {
  constexpr int kRuns = 20;
  for (int run = 0; run < kRuns; ++run) {
    const auto run_deadline = std::min(deadline_, Clock::now() + 60s);
    Subprocess vm = Subprocess::spawn(vmm_argv(with_extra(kVerboseCmdline) + " vmmtest=sleep"));
    // Once the vCPU thread exists the guest runs; then wait 0..950 ms more.
    while (!has_thread(vm.pid(), "vcpu0") && Clock::now() < run_deadline) {
      std::this_thread::sleep_for(5ms);
    }
    ASSERT_TRUE(has_thread(vm.pid(), "vcpu0")) << "run " << run << ": no vCPU thread\n"
                                               << vm.stderr_text();
    std::this_thread::sleep_for(std::chrono::milliseconds(50 * run));
    ASSERT_EQ(::kill(vm.pid(), SIGTERM), 0);
    const auto status = vm.wait(run_deadline);
    ASSERT_TRUE(status.has_value()) << "run " << run << ": vmm did not exit after SIGTERM";
    EXPECT_TRUE(status->exited && status->code == 143)
        << "run " << run << ": " << status->describe() << "\n"
        << vm.stderr_text();
    EXPECT_NE(vm.stderr_text().find("received signal"), std::string::npos)
        << "run " << run << ": " << vm.stderr_text();
  }
}

// Everything the guest printed before the signal reaches stdout, and the last line the guest
// wrote is there whole.
TEST_F(VmmControlTest, SigtermKeepsEveryConsoleLine) {
  Subprocess vm = Subprocess::spawn(vmm_argv(with_extra(kQuietCmdline) + " vmmtest=ticker"));
  ASSERT_TRUE(vm.wait_for_stdout("VMMTEST: tick=10\r\n", deadline_).has_value())
      << vm.stderr_text();
  ASSERT_EQ(::kill(vm.pid(), SIGTERM), 0);
  const auto status = vm.wait(deadline_);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->exited && status->code == 143) << status->describe();
  const std::string& out = vm.stdout_text();
  for (int i = 0; i <= 10; ++i) {
    EXPECT_NE(out.find("VMMTEST: tick=" + std::to_string(i) + "\r\n"), std::string::npos)
        << "tick " << i << " missing";
  }
}

// On a terminal, vmm puts stdin in raw mode; a SIGTERM still restores the terminal's modes.
TEST_F(VmmControlTest, SigtermRestoresTerminalModes) {
  int master_fd = -1;
  int slave_fd = -1;
  ASSERT_EQ(::openpty(&master_fd, &slave_fd, nullptr, nullptr, nullptr), 0);
  const UniqueFd master(master_fd);
  const UniqueFd slave(slave_fd);
  termios before{};
  ASSERT_EQ(::tcgetattr(slave.get(), &before), 0);
  ASSERT_NE(before.c_lflag & ICANON, 0u) << "a new pty starts in canonical mode";

  std::vector<std::string> args = vmm_argv(with_extra(kQuietCmdline) + " vmmtest=sleep");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(devnull, 0);
  const UniqueFd null_out(devnull);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(slave.get(), STDIN_FILENO);
    ::dup2(null_out.get(), STDOUT_FILENO);
    ::dup2(null_out.get(), STDERR_FILENO);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  // vmm switches the terminal to raw mode once the VM is built.
  bool raw = false;
  while (Clock::now() < deadline_ && !raw) {
    termios now{};
    ASSERT_EQ(::tcgetattr(slave.get(), &now), 0);
    raw = (now.c_lflag & ICANON) == 0;
    if (!raw) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(raw) << "vmm never put the terminal in raw mode";
  std::this_thread::sleep_for(500ms);
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, WNOHANG) == 0 && Clock::now() < deadline_) {
    std::this_thread::sleep_for(20ms);
  }
  if (!WIFEXITED(wstatus) && !WIFSIGNALED(wstatus)) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &wstatus, 0);
    FAIL() << "vmm did not exit after SIGTERM";
  }
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 143) << "wait status " << wstatus;
  termios after{};
  ASSERT_EQ(::tcgetattr(slave.get(), &after), 0);
  EXPECT_EQ(after.c_lflag, before.c_lflag);
  EXPECT_EQ(after.c_iflag, before.c_iflag);
  EXPECT_EQ(after.c_oflag, before.c_oflag);
}

// CPU time (user + system) of process `pid` so far, in clock ticks.
long long cpu_ticks(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(stat, text);
  // Fields after the command name (which may hold spaces) start after the last ')'.
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::vector<std::string> fields{std::istream_iterator<std::string>(rest), {}};
  // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
  return fields.size() > 12 ? std::stoll(fields[11]) + std::stoll(fields[12]) : -1;
}

// The number of the last `VMMTEST: tick=N` line in `text`, or -1.
int last_tick(const std::string& text) {
  const std::string key = "VMMTEST: tick=";
  const auto at = text.rfind(key);
  return at == std::string::npos ? -1 : std::atoi(text.c_str() + at + key.size());
}

// curl on the API socket, as a user would: the HTTP status and the body.
struct CurlResult {
  int status = 0;
  std::string body;
};
CurlResult curl(const std::string& socket, const std::string& method, const std::string& endpoint,
                Clock::time_point deadline) {
  const ToolResult r = run_tool({"curl", "-s", "--unix-socket", socket, "-X", method, "-w",
                                 "\n%{http_code}", "http://localhost/api/v1/" + endpoint},
                                deadline);
  CurlResult out;
  const auto nl = r.out.rfind('\n');
  if (nl == std::string::npos) return out;
  out.body = r.out.substr(0, nl);
  out.status = std::atoi(r.out.c_str() + nl + 1);
  return out;
}

// Pause and resume through the REST API with curl: a guest printing a counter every 100 ms
// prints nothing while paused and vmm uses no CPU; after resume the counter goes on. vm.info
// shows each state, a second pause is refused with 409, and vm.shutdown ends vmm with 0.
TEST_F(VmmControlTest, PauseAndResumeThroughTheApi) {
  const std::string socket =
      std::filesystem::temp_directory_path() / ("vmm-api-" + std::to_string(::getpid()) + ".sock");
  std::vector<std::string> argv = vmm_argv(with_extra(kQuietCmdline) + " vmmtest=ticker");
  argv.insert(argv.end(), {"--api-socket", socket});
  Subprocess vm = Subprocess::spawn(argv);
  ASSERT_TRUE(vm.wait_for_stdout("VMMTEST: tick=10\r\n", deadline_)) << vm.stderr_text();

  CurlResult ping = curl(socket, "GET", "vmm.ping", deadline_);
  EXPECT_EQ(ping.status, 200) << ping.body;
  EXPECT_NE(ping.body.find("\"version\""), std::string::npos) << ping.body;
  EXPECT_NE(curl(socket, "GET", "vm.info", deadline_).body.find("\"state\":\"Running\""),
            std::string::npos);

  ASSERT_EQ(curl(socket, "PUT", "vm.pause", deadline_).status, 204);
  const CurlResult paused_info = curl(socket, "GET", "vm.info", deadline_);
  EXPECT_NE(paused_info.body.find("\"state\":\"Paused\""), std::string::npos) << paused_info.body;
  const CurlResult again = curl(socket, "PUT", "vm.pause", deadline_);
  EXPECT_EQ(again.status, 409) << again.body;

  // Collect what was already on its way, then watch for 2 s.
  (void)vm.wait_for_stdout("\x01never", Clock::now() + 300ms);
  const size_t frozen_len = vm.stdout_text().size();
  const int frozen_tick = last_tick(vm.stdout_text());
  const long long cpu_before = cpu_ticks(vm.pid());
  (void)vm.wait_for_stdout("\x01never", Clock::now() + 2s);
  const long long cpu_after = cpu_ticks(vm.pid());
  EXPECT_EQ(vm.stdout_text().size(), frozen_len) << "the guest printed while paused";
  EXPECT_GE(cpu_before, 0);
  // A paused VM parks every thread: allow a few clock ticks (10 ms each) for the API calls.
  EXPECT_LE(cpu_after - cpu_before, 5) << "vmm used CPU while paused";

  ASSERT_EQ(curl(socket, "PUT", "vm.resume", deadline_).status, 204);
  EXPECT_NE(curl(socket, "GET", "vm.info", deadline_).body.find("\"state\":\"Running\""),
            std::string::npos);
  EXPECT_EQ(curl(socket, "PUT", "vm.resume", deadline_).status, 409);
  const std::string next = "VMMTEST: tick=" + std::to_string(frozen_tick + 5) + "\r\n";
  EXPECT_TRUE(vm.wait_for_stdout(next, deadline_)) << "the counter did not go on after resume";

  // vmm ctl speaks to the same socket; shutdown ends the VM, vmm exits 0 and removes it.
  const ToolResult counters =
      run_tool({KvmTestEnv::get().vmm_bin, "ctl", "--api-socket", socket, "counters"}, deadline_);
  EXPECT_TRUE(counters.ok()) << counters.err;
  EXPECT_EQ(counters.out.rfind("{", 0), 0u) << counters.out;
  const ToolResult shutdown =
      run_tool({KvmTestEnv::get().vmm_bin, "ctl", "--api-socket", socket, "shutdown"}, deadline_);
  EXPECT_TRUE(shutdown.ok()) << shutdown.err;
  const auto status = vm.wait(deadline_);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->exited && status->code == 0) << status->describe();
  EXPECT_FALSE(std::filesystem::exists(socket)) << "the API socket is removed at exit";
}

// A pipe pair for an in-process VM's console, and the output it has shown so far.
class ConsolePipes {
 public:
  ConsolePipes() {
    int in[2];
    int out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe2 failed");
    }
    // Only our end polls; the VM's end blocks like a terminal would.
    ::fcntl(out[0], F_SETFL, ::fcntl(out[0], F_GETFL) | O_NONBLOCK);
    guest_in_ = UniqueFd(in[0]);
    host_in_ = UniqueFd(in[1]);
    host_out_ = UniqueFd(out[0]);
    guest_out_ = UniqueFd(out[1]);
  }
  [[nodiscard]] ConsoleIo io() const {
    return ConsoleIo{.output_fd = guest_out_.get(), .input_fd = guest_in_.get()};
  }
  void send(const std::string& s) const {
    ASSERT_EQ(::write(host_in_.get(), s.data(), s.size()), static_cast<ssize_t>(s.size()));
  }
  // Reads until the output holds `needle` after `from`; the offset past it, or nullopt.
  std::optional<size_t> wait_for(const std::string& needle, Clock::time_point deadline,
                                 size_t from = 0) {
    for (;;) {
      if (const auto at = text_.find(needle, from); at != std::string::npos) {
        return at + needle.size();
      }
      if (Clock::now() >= deadline) return std::nullopt;
      pollfd p{host_out_.get(), POLLIN, 0};
      ::poll(&p, 1, 200);
      std::array<char, 4096> buf{};
      const ssize_t n = ::read(host_out_.get(), buf.data(), buf.size());
      if (n > 0) text_.append(buf.data(), static_cast<size_t>(n));
    }
  }
  [[nodiscard]] const std::string& text() const { return text_; }

 private:
  UniqueFd guest_in_, host_in_, host_out_, guest_out_;
  std::string text_;
};

// wait() for a VM that should stop by itself before the deadline; stopped by force otherwise.
VmOutcome wait_within(Vm& vm, Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  pollfd p{vm.stop_event_fd(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0))) <= 0) {
    ADD_FAILURE() << "the VM did not stop by itself before the deadline";
    vm.request_stop();
  }
  return vm.wait();
}

VmConfig test_vm_config(const std::string& action) {
  const KvmTestEnv& env = KvmTestEnv::get();
  VmConfig c;
  c.kernel = env.kernel;
  c.initrd = env.initrd;
  c.cmdline = with_extra(kQuietCmdline) + " vmmtest=" + action;
  c.cpus = 1;
  c.memory_bytes = 256ULL << 20;
  return c;
}

// Two VMs in one process, each with its own console: stopping one through request_stop leaves
// the other running and answering on its console.
TEST_F(VmmControlTest, TwoVmsInOneProcessStopIndependently) {
  ConsolePipes console_a;
  ConsolePipes console_b;
  Vm a(test_vm_config("sleep"), console_a.io());
  Vm b(test_vm_config("shell"), console_b.io());
  EXPECT_EQ(a.state(), VmState::kCreated);
  a.start();
  b.start();
  EXPECT_EQ(a.state(), VmState::kRunning);
  ASSERT_TRUE(console_a.wait_for("VMMTEST: sleeping", deadline_)) << console_a.text();
  const auto ready = console_b.wait_for("VMMTEST: shell ready", deadline_);
  ASSERT_TRUE(ready) << console_b.text();

  a.request_stop();
  const VmOutcome outcome = a.wait();
  EXPECT_EQ(outcome.reason, StopReason::kRequested);
  EXPECT_EQ(a.state(), VmState::kShutdown);
  EXPECT_EQ(a.wait().reason, StopReason::kRequested) << "wait() answers the same every time";
  EXPECT_THROW(a.start(), vmm::Error);

  EXPECT_EQ(b.state(), VmState::kRunning);
  console_b.send("echo $((6*7))\n");
  EXPECT_TRUE(console_b.wait_for("42\r\n", deadline_, *ready)) << console_b.text();
  console_b.send("reboot -f\n");
  EXPECT_EQ(wait_within(b, deadline_).reason, StopReason::kGuestReset);
  EXPECT_EQ(b.state(), VmState::kShutdown);
}

}  // namespace
}  // namespace vmm::test
