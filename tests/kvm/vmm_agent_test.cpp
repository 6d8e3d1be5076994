// The guest agent in a plain `vmm run`: the busybox test root on a virtio disk, booted by the
// stock kernel with the root-on-disk initramfs, `--vsock` for the channel and `--agent` to put
// vmm-agent into the initramfs (the image itself has no agent). One boot; `vmm ctl exec` then
// runs commands in the final root as a user would: exit statuses, separate streams, 64 MiB
// through stdin and stdout, ten at once, and an interactive shell on a pty.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kvm_test_env.hpp"
#include "kvm_test_support.hpp"
#include "subprocess.hpp"

namespace vmm::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr uint64_t kMiB = uint64_t{1024} * 1024;

// A shell child on a pseudo-terminal whose master the test holds.
class PtyChild {
 public:
  PtyChild(const std::vector<std::string>& argv, unsigned short rows, unsigned short cols) {
    winsize size{};
    size.ws_row = rows;
    size.ws_col = cols;
    int master = -1;
    pid_ = ::forkpty(&master, nullptr, nullptr, &size);
    if (pid_ == 0) {
      std::vector<char*> args;
      args.reserve(argv.size() + 1);
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    master_ = UniqueFd(master);
  }
  PtyChild(const PtyChild&) = delete;
  PtyChild& operator=(const PtyChild&) = delete;
  ~PtyChild() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  [[nodiscard]] bool started() const { return pid_ > 0 && master_; }
  void type(const std::string& text) const {
    [[maybe_unused]] const auto n = ::write(master_.get(), text.data(), text.size());
  }
  // Reads until `needle` shows up in what arrived after `from`, or the deadline.
  bool wait_for(const std::string& needle, Clock::time_point deadline, size_t from = 0) {
    while (output_.find(needle, from) == std::string::npos) {
      if (Clock::now() >= deadline) return false;
      pollfd p{master_.get(), POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::read(master_.get(), buf, sizeof buf);
      if (n <= 0) return output_.find(needle, from) != std::string::npos;
      output_.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  // The child's exit status, or nullopt at the deadline.
  std::optional<int> wait_exit(Clock::time_point deadline) {
    while (Clock::now() < deadline) {
      (void)wait_for("\x01never\x01", std::min(deadline, Clock::now() + 200ms));
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
    }
    return std::nullopt;
  }
  [[nodiscard]] const std::string& output() const { return output_; }
  [[nodiscard]] size_t size() const { return output_.size(); }

 private:
  pid_t pid_ = -1;
  UniqueFd master_;
  std::string output_;
};

class AgentRunTest : public KvmTest {
 protected:
  static void SetUpTestSuite() {
    const KvmTestEnv& env = KvmTestEnv::get();
    if (!env.has_kvm || !env.problem.empty()) return;
    const std::string cache = cache_dir();
    const std::string initrd =
        env_or("VMM_TEST_ROOTFS_INITRD", cache + "/rootfs-initramfs.cpio.gz");
    const std::string rootfs = env_or("VMM_TEST_ROOTFS_IMAGE", cache + "/test-rootfs.ext4");
    for (const auto& path : {initrd, rootfs}) {
      if (::access(path.c_str(), R_OK) != 0) {
        problem_ = "missing " + path + " (the kvm_assets test builds it)";
        return;
      }
    }
    scratch_ = fs::path(env_or("VMM_TEST_SCRATCH_DIR", "kvm-scratch")) / "agent";
    fs::remove_all(scratch_);
    fs::create_directories(scratch_);
    const fs::path root_img = scratch_ / "root.ext4";
    fs::copy_file(rootfs, root_img, fs::copy_options::overwrite_existing);
    // Sockets cannot live on the build directory the sandbox shares (9p).
    sockets_ = fs::temp_directory_path() / ("vmm-agent-test-" + std::to_string(::getpid()));
    fs::create_directories(sockets_);
    api_ = (sockets_ / "api.sock").string();
    vsock_ = (sockets_ / "vsock.sock").string();
    std::string cmdline =
        "console=ttyS0 reboot=k panic=-1 quiet pci=noearly root=/dev/vda rootfstype=ext4 rw "
        "rootwait "
        "vmmtest=sleep";
    if (!env.cmdline_extra.empty()) cmdline += " " + env.cmdline_extra;
    const auto started = Clock::now();
    vm_.emplace(
        Subprocess::spawn({env.vmm_bin, "run", "--kernel", env.kernel, "--initrd", initrd,
                           "--cmdline", cmdline, "--memory", "512M", "--disk", root_img.string(),
                           "--api-socket", api_, "--vsock", "cid=7,socket=" + vsock_, "--agent"}));
    const auto deadline = Clock::now() + 3 * env.test_limit;
    while (::access(api_.c_str(), F_OK) != 0 && Clock::now() < deadline) {
      std::this_thread::sleep_for(50ms);
    }
    const ToolResult ready = run_tool(
        {env.vmm_bin, "ctl", "--api-socket", api_, "wait-agent", "--timeout",
         std::to_string(
             std::chrono::duration_cast<std::chrono::seconds>(deadline - Clock::now()).count())},
        deadline + 10s);
    if (!ready.ok()) {
      (void)vm_->wait(Clock::now() + 1s);  // collects the console so far
      problem_ = "the agent never answered: " + ready.status.describe() + " " + ready.err +
                 "\nconsole:\n" + vm_->stdout_text() + vm_->stderr_text();
      return;
    }
    ready_seconds_ = std::chrono::duration<double>(Clock::now() - started).count();
  }
  static void TearDownTestSuite() {
    if (vm_) vm_->kill();
    vm_.reset();
    std::error_code ec;
    fs::remove_all(sockets_, ec);
  }
  void SetUp() override {
    KvmTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(problem_.empty()) << problem_;
  }

  // `vmm ctl exec -T [flags] -- command` with stdin from /dev/null unless `input` names a file.
  static ToolResult ctl_exec(const std::vector<std::string>& flags,
                             const std::vector<std::string>& command, Clock::time_point deadline) {
    std::vector<std::string> argv = {
        KvmTestEnv::get().vmm_bin, "ctl", "--api-socket", api_, "exec", "-T"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.emplace_back("--");
    argv.insert(argv.end(), command.begin(), command.end());
    return run_tool(argv, deadline);
  }

  static inline std::optional<Subprocess> vm_;
  static inline std::string problem_;
  static inline fs::path scratch_;
  static inline fs::path sockets_;
  static inline std::string api_;
  static inline std::string vsock_;
  static inline double ready_seconds_ = 0;
};

TEST_F(AgentRunTest, ExitStatusesComeBackExactly) {
  std::printf("vmm run to a first answer of the agent: %.2f s\n", ready_seconds_);
  EXPECT_EQ(ctl_exec({}, {"true"}, deadline_).status.code, 0);
  EXPECT_EQ(ctl_exec({}, {"sh", "-c", "exit 7"}, deadline_).status.code, 7);
  const ToolResult missing = ctl_exec({}, {"/no/such/command"}, deadline_);
  EXPECT_EQ(missing.status.code, 127) << missing.err;
  EXPECT_NE(missing.err.find("/no/such/command"), std::string::npos) << missing.err;
  // Found, but not something to run: a directory, and a file without the x bit.
  EXPECT_EQ(ctl_exec({}, {"/etc"}, deadline_).status.code, 126);
  ASSERT_TRUE(
      ctl_exec({}, {"sh", "-c", "echo echo no > /root/plain; chmod 644 /root/plain"}, deadline_)
          .ok());
  EXPECT_EQ(ctl_exec({}, {"/root/plain"}, deadline_).status.code, 126);
  // A signal: 128 + its number, as a shell reports it.
  EXPECT_EQ(ctl_exec({}, {"sh", "-c", "kill -TERM $$"}, deadline_).status.code, 128 + SIGTERM);
}

TEST_F(AgentRunTest, StreamsEnvironmentDirectoryAndUser) {
  const ToolResult r = ctl_exec(
      {"--env", "GREETING=hello", "--cwd", "/tmp", "--user", "1000:1001"},
      {"sh", "-c", "echo \"$GREETING $(pwd) $(id -u):$(id -g)\"; echo to-stderr >&2; exit 3"},
      deadline_);
  EXPECT_EQ(r.status.code, 3);
  EXPECT_EQ(r.out, "hello /tmp 1000:1001\n");
  EXPECT_EQ(r.err, "to-stderr\n");
  // The final root, not the initramfs the agent started from.
  const ToolResult root =
      ctl_exec({}, {"sh", "-c", "awk '$2 == \"/\" { print $3 }' /proc/mounts"}, deadline_);
  EXPECT_EQ(root.out.substr(root.out.rfind('\n', root.out.size() - 2) + 1), "ext4\n") << root.out;
}

TEST_F(AgentRunTest, SixtyFourMebibytesThroughStdinAndStdout) {
  const fs::path input = scratch_ / "stdin.bin";
  {
    std::mt19937_64 rng{static_cast<uint64_t>(::getpid())};
    std::ofstream out(input, std::ios::binary);
    std::vector<uint64_t> chunk(kMiB / sizeof(uint64_t));
    for (uint64_t i = 0; i < 64; ++i) {
      for (auto& w : chunk) w = rng();
      out.write(reinterpret_cast<const char*>(chunk.data()), static_cast<std::streamsize>(kMiB));
    }
  }
  const ToolResult expected = run_tool({"sha256sum", input.string()}, deadline_);
  ASSERT_TRUE(expected.ok());
  const auto started = Clock::now();
  const ToolResult r =
      run_tool({"sh", "-c", "\"$1\" ctl --api-socket \"$2\" exec -T -- cat <\"$3\" | sha256sum",
                "sh", KvmTestEnv::get().vmm_bin, api_, input.string()},
               deadline_);
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::printf("64 MiB through the agent and back: %.1f s (%.1f MiB/s)\n", seconds, 64 / seconds);
  ASSERT_TRUE(r.ok()) << r.err;
  EXPECT_EQ(r.out.substr(0, 64), expected.out.substr(0, 64));
}

TEST_F(AgentRunTest, TenExecsAtOnce) {
  std::vector<Subprocess> runs;
  runs.reserve(10);
  for (int i = 0; i < 10; ++i) {
    runs.push_back(Subprocess::spawn(
        {KvmTestEnv::get().vmm_bin, "ctl", "--api-socket", api_, "exec", "-T", "--", "sh", "-c",
         "sleep 1; echo run-" + std::to_string(i) + "; exit " + std::to_string(10 + i)}));
  }
  for (int i = 0; i < 10; ++i) {
    const auto status = runs[static_cast<size_t>(i)].wait(deadline_);
    ASSERT_TRUE(status.has_value()) << "exec " << i << " did not finish";
    EXPECT_EQ(status->code, 10 + i);
    EXPECT_EQ(runs[static_cast<size_t>(i)].stdout_text(), "run-" + std::to_string(i) + "\n");
  }
}

TEST_F(AgentRunTest, InteractiveShellOnAPty) {
  PtyChild shell(
      {KvmTestEnv::get().vmm_bin, "ctl", "--api-socket", api_, "exec", "-t", "--", "/bin/sh"}, 33,
      101);
  ASSERT_TRUE(shell.started());
  shell.type("stty size\n");
  EXPECT_TRUE(shell.wait_for("33 101", deadline_)) << shell.output();
  size_t mark = shell.size();
  shell.type("echo $((6*7))\n");
  EXPECT_TRUE(shell.wait_for("42\r\n", deadline_, mark)) << shell.output();
  // Ctrl-C reaches the foreground process through the pty's line discipline.
  shell.type("sleep 100; echo slept-$((1+1))\n");
  std::this_thread::sleep_for(1s);
  mark = shell.size();
  shell.type("\x03");
  shell.type("echo status=$?\n");
  EXPECT_TRUE(shell.wait_for("status=130", Clock::now() + 30s, mark)) << shell.output();
  EXPECT_EQ(shell.output().find("slept-2"), std::string::npos) << shell.output();
  shell.type("exit 5\n");
  EXPECT_EQ(shell.wait_exit(deadline_), std::optional<int>(5)) << shell.output();
}

TEST_F(AgentRunTest, ExecLatencyOfTrue) {
  std::vector<double> ms;
  for (int i = 0; i < 10; ++i) {
    const auto started = Clock::now();
    ASSERT_EQ(ctl_exec({}, {"true"}, deadline_).status.code, 0);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - started).count());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("vmm ctl exec -- true: median %.1f ms, min %.1f ms over %zu runs\n",
              ms[ms.size() / 2], ms.front(), ms.size());
}

}  // namespace
}  // namespace vmm::test
