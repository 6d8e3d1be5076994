#pragma once
// Helpers of the KVM tests of VM instances: a private `vmm daemon --foreground` (its own socket
// and state directory, no bridge unless a test names one), the lxc-like CLI against it, and the
// instance's console.log.
#include <gtest/gtest.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "kvm_test_env.hpp"
#include "kvm_test_support.hpp"
#include "subprocess.hpp"

namespace vmm::test {

inline std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

inline long long millis(Clock::duration d) {
  return static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

// Unpacks an ext4 image into `tree` without mounting it (the sandbox cannot loop-mount).
inline void unpack_ext4(const std::string& image, const std::filesystem::path& tree) {
  std::filesystem::create_directories(tree);
  const ToolResult dumped = run_tool({"debugfs", "-R", "rdump / " + tree.string(), image},
                                     Clock::now() + std::chrono::seconds(300));
  EXPECT_TRUE(dumped.ok()) << dumped.err;
}

// The fixture's instance is `name_`; subclasses set deadline_ and name_ before using it.
class InstanceDaemonTest : public KvmTest {
 protected:
  void SetUp() override {
    KvmTest::SetUp();
    if (HasFatalFailure()) return;
    work_ =
        std::filesystem::temp_directory_path() / ("vmm-instance-vm-" + std::to_string(::getpid()));
    std::filesystem::remove_all(work_);
    std::filesystem::create_directories(work_);
    socket_ = work_ / "vmm.sock";
    state_ = work_ / "state";
    ::setenv("VMM_SOCKET", socket_.c_str(), 1);
  }

  void TearDown() override {
    // A VM that a failure left running is nobody's child: kill it by its pid file.
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(state_ / "instances", ec)) {
      std::istringstream pid_file(read_file(entry.path() / "vm.pid"));
      pid_t pid = 0;
      if (pid_file >> pid && pid > 0) ::kill(pid, SIGKILL);
      if (HasFailure()) {
        std::fprintf(stderr, "--- %s console.log ---\n%s\n", entry.path().filename().c_str(),
                     read_file(entry.path() / "console.log").c_str());
      }
    }
    if (daemon_) {
      daemon_->kill();
      if (HasFailure())
        std::fprintf(stderr, "--- daemon ---\n%s\n", daemon_->stderr_text().c_str());
    }
    std::filesystem::remove_all(work_, ec);
    ::unsetenv("VMM_SOCKET");
    if (!bridge_.empty()) {
      (void)run_tool({"ip", "link", "del", bridge_}, Clock::now() + std::chrono::seconds(10));
    }
  }

  // `cmdline_append`: guest kernel parameters for every VM instance, before the environment's.
  // `network`: the daemon's bridge options (none by default).
  void start_daemon(std::string cmdline_append = "",
                    const std::vector<std::string>& network = {"--bridge", ""}) {
    const std::string cache = cache_dir();
    std::vector<std::string> argv = {
        KvmTestEnv::get().vmm_bin,
        "daemon",
        "--foreground",
        "--socket",
        socket_.string(),
        "--state-dir",
        state_.string(),
        "--group",
        "",
        "--kernel",
        KvmTestEnv::get().kernel,
        "--initrd",
        env_or("VMM_TEST_ROOTFS_INITRD", cache + "/rootfs-initramfs.cpio.gz")};
    const std::string& extra = KvmTestEnv::get().cmdline_extra;
    if (!extra.empty()) cmdline_append += (cmdline_append.empty() ? "" : " ") + extra;
    if (!cmdline_append.empty()) argv.insert(argv.end(), {"--vm-cmdline-append", cmdline_append});
    argv.insert(argv.end(), network.begin(), network.end());
    daemon_.emplace(Subprocess::spawn(argv));
    const auto up_by = std::min(deadline_, Clock::now() + std::chrono::seconds(60));
    while (Clock::now() < up_by) {
      if (std::filesystem::exists(socket_) && vmm({"list"}).ok()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    FAIL() << "the daemon did not come up: " << daemon_->stderr_text();
  }

  ToolResult vmm(std::vector<std::string> args) const {
    args.insert(args.begin(), KvmTestEnv::get().vmm_bin);
    return run_tool(args, deadline_);
  }

  [[nodiscard]] std::filesystem::path instance_dir() const { return state_ / "instances" / name_; }
  [[nodiscard]] std::string console() const { return read_file(instance_dir() / "console.log"); }

  // Waits for the console to hold `needle` `times` times.
  bool wait_console(const std::string& needle, size_t times = 1) const {
    while (Clock::now() < deadline_) {
      if (count_of(console(), needle) >= times) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return false;
  }

  // "STATE,TYPE" of the instance from `vmm list --format csv`.
  std::string listed() const {
    const ToolResult r = vmm({"list", "--format", "csv"});
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      if (!line.starts_with(name_ + ",")) continue;
      std::istringstream fields(line);
      std::string name;
      std::string state;
      std::string type;
      std::getline(fields, name, ',');
      std::getline(fields, state, ',');
      std::getline(fields, type, ',');
      state += ",";
      state += type;
      return state;
    }
    return "not listed: " + r.out + r.err;
  }

  // The IPV4 column of `vmm list --format csv` for instance `name` ("" while it has none).
  std::string listed_ipv4(const std::string& name) const {
    std::istringstream lines(vmm({"list", "--format", "csv"}).out);
    for (std::string line; std::getline(lines, line);) {
      std::vector<std::string> fields;
      std::istringstream split(line);
      for (std::string field; std::getline(split, field, ',');) fields.push_back(field);
      if (fields.size() >= 4 && fields[0] == name) return fields[3].substr(0, fields[3].find(' '));
    }
    return "";
  }

  // Waits for `name` to be listed with an address; "" at the deadline.
  std::string wait_ipv4(const std::string& name) const {
    while (Clock::now() < deadline_) {
      if (std::string address = listed_ipv4(name); !address.empty()) return address;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return "";
  }

  pid_t vm_pid() const {
    const ToolResult r = vmm({"info", name_});
    const auto at = r.out.find("PID: ");
    return at == std::string::npos ? 0 : std::stoi(r.out.substr(at + 5));
  }

  // A bridge of the test's own name, for start_daemon's network; removed with the fixture.
  std::string test_bridge() {
    bridge_ = "vmmtbr" + std::to_string(::getpid() % 100000);
    return bridge_;
  }

  std::string name_ = "vm1";
  std::string bridge_;
  std::filesystem::path work_;
  std::filesystem::path socket_;
  std::filesystem::path state_;
  std::optional<Subprocess> daemon_;
};

}  // namespace vmm::test
