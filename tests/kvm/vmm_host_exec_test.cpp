// End-to-end test of `vmm run --exec`: the real vmm boots the stock kernel (whose 9p, overlay
// and virtio modules vmm finds and packs itself) into this machine's own root, shared
// read-only over virtio-9p, and runs one command there. One boot checks that vmm's stdout is
// exactly the command's stdout (no kernel messages), its stderr reaches vmm's stderr, the
// command ran in vmm's working directory and saw the host's files, its writes landed in the
// guest's overlay (the host is unchanged), and vmm exits with the command's status.
// The run's output goes to VMM_KVM_LOG_DIR/HostExecTest.log.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include "kvm_test_env.hpp"
#include "kvm_test_support.hpp"
#include "subprocess.hpp"

namespace vmm::test {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

class HostExecTest : public KvmTest {
 protected:
  void TearDown() override {
    if (!vm_) return;
    vm_->kill();
    const fs::path log_dir = KvmTestEnv::get().log_dir;
    std::error_code ec;
    fs::create_directories(log_dir, ec);
    std::ofstream(log_dir / "HostExecTest.log") << "--- stdout ---\n"
                                                << vm_->stdout_text() << "\n--- stderr ---\n"
                                                << vm_->stderr_text();
    if (HasFailure()) {
      std::fprintf(stderr, "--- stdout ---\n%s\n--- stderr ---\n%s\n", vm_->stdout_text().c_str(),
                   vm_->stderr_text().c_str());
    }
  }
  std::optional<Subprocess> vm_;
};

TEST_F(HostExecTest, RunsACommandOnTheHostRootAndExitsWithItsStatus) {
  const KvmTestEnv& env = KvmTestEnv::get();
  const fs::path cwd = fs::current_path();
  const std::string written = "vmm-exec-written-" + std::to_string(::getpid());
  const std::string command = "echo hello; cat /etc/hostname; pwd; echo to-stderr >&2; " +
                              ("echo guest > " + written) + " && cat " + written +
                              "; echo x > /etc/" + written + " && echo etc-written; exit 7";
  std::vector<std::string> argv = {"env",       std::string("VMM_AGENT_BINARY=") + VMM_AGENT_BIN,
                                   env.vmm_bin, "run",
                                   "--kernel",  env.kernel,
                                   "--memory",  "256M",
                                   "--share",   "/,tag=root,readonly=on",
                                   "--exec",    command};
  if (!env.cmdline_extra.empty()) {
    argv.insert(argv.end() - 2, {"--cmdline-append", env.cmdline_extra});
  }
  vm_.emplace(Subprocess::spawn(argv));
  const auto status = vm_->wait(deadline_);
  ASSERT_TRUE(status.has_value()) << "vmm --exec did not end in time";
  EXPECT_TRUE(status->exited && status->code == 7) << status->describe();
  // Exactly the command's stdout: no boot or kernel messages around it.
  const std::string expected =
      "hello\n" + read_text("/etc/hostname") + cwd.string() + "\nguest\netc-written\n";
  EXPECT_EQ(vm_->stdout_text(), expected);
  EXPECT_NE(vm_->stderr_text().find("to-stderr\n"), std::string::npos);
  EXPECT_EQ(vm_->stdout_text().find("to-stderr"), std::string::npos);
  // The writes went to the guest's tmpfs overlay, not to the host.
  EXPECT_FALSE(fs::exists(cwd / written));
  EXPECT_FALSE(fs::exists(fs::path("/etc") / written));
}

}  // namespace
}  // namespace vmm::test
