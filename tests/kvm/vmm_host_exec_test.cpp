// End-to-end test of `vmm run --exec`: the real vmm boots the stock kernel (whose 9p, overlay
// and virtio modules vmm finds and packs itself) into this machine's own root, shared
// read-only over virtio-9p, and runs one command there. One boot checks that vmm's stdout is
// exactly the command's stdout (no kernel messages), its stderr reaches vmm's stderr, the
// command ran in vmm's working directory and saw the host's files, its writes landed in the
// guest's overlay (the host is unchanged), and vmm exits with the command's status. A second
// boot, whose kernel refuses the 9p module, checks that a guest whose init cannot mount the
// root says why on stderr and ends vmm with 125, a status no command sent.
// The runs' output goes to VMM_KVM_LOG_DIR/HostExecTest.*.log.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

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
  // vmm --exec COMMAND on this machine's root, with the real guest agent as init; `extra`
  // comes before --exec.
  void spawn(const std::string& command, const std::vector<std::string>& extra = {}) {
    const KvmTestEnv& env = KvmTestEnv::get();
    std::vector<std::string> argv = {"env",       std::string("VMM_AGENT_BINARY=") + VMM_AGENT_BIN,
                                     env.vmm_bin, "run",
                                     "--kernel",  env.kernel,
                                     "--memory",  "256M",
                                     "--share",   "/,tag=root,readonly=on"};
    if (!env.cmdline_extra.empty())
      argv.insert(argv.end(), {"--cmdline-append", env.cmdline_extra});
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), {"--exec", command});
    vm_.emplace(Subprocess::spawn(argv));
  }

  void TearDown() override {
    if (!vm_) return;
    vm_->kill();
    const fs::path log_dir = KvmTestEnv::get().log_dir;
    std::error_code ec;
    fs::create_directories(log_dir, ec);
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::ofstream(log_dir / ("HostExecTest." + name + ".log"))
        << "--- stdout ---\n"
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
  const fs::path cwd = fs::current_path();
  const std::string written = "vmm-exec-written-" + std::to_string(::getpid());
  spawn("echo hello; cat /etc/hostname; pwd; echo to-stderr >&2; echo guest > " + written +
        " && cat " + written + "; echo x > /etc/" + written + " && echo etc-written; exit 7");
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

TEST_F(HostExecTest, AGuestThatCannotMountItsRootEndsWith125AndSaysWhy) {
  spawn("echo never", {"--cmdline-append", "module_blacklist=9p"});
  const auto status = vm_->wait(deadline_);
  ASSERT_TRUE(status.has_value()) << "vmm --exec did not end in time";
  EXPECT_TRUE(status->exited && status->code == 125) << status->describe();
  EXPECT_EQ(vm_->stdout_text(), "");
  const std::string& err = vm_->stderr_text();
  EXPECT_NE(err.find("vmm-init: mount the share tagged root (9p)"), std::string::npos) << err;
  EXPECT_NE(err.find("vmm: --exec: the guest could not run the command"), std::string::npos) << err;
}

}  // namespace
}  // namespace vmm::test
