// End-to-end test of virtio-9p host directory sharing: the real vmm boots the stock kernel with
// the test initramfs, whose init (action `9p`, firmware/test-init.sh) loads the 9p modules,
// mounts a read-write share "rw" and a read-only share "ro", reads a 64 MiB file the host put
// there, writes a 64 MiB file back, tries to change the read-only share and reads through
// symlinks the host planted that point outside the share. One boot covers every check; the
// host then compares checksums on both sides and looks for its secret in the guest's output.
// The directories live under VMM_TEST_SCRATCH_DIR/share and are removed afterwards; the boot's
// console and vmm's log go to VMM_KVM_LOG_DIR/ShareTest.log.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "kvm_test_env.hpp"
#include "kvm_test_support.hpp"
#include "subprocess.hpp"

namespace vmm::test {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kFileBytes = 64ULL << 20;
constexpr const char* kSecret = "vmm-share-test-host-secret";

std::string sha256_of(const fs::path& file, Clock::time_point deadline) {
  const ToolResult r = run_tool({"sha256sum", file.string()}, deadline);
  if (!r.ok() || r.out.size() < 64) return {};
  return r.out.substr(0, 64);
}

class ShareTest : public KvmTest {
 protected:
  void SetUp() override {
    KvmTest::SetUp();
    if (HasFatalFailure()) return;
    base_ = fs::absolute(fs::path(env_or("VMM_TEST_SCRATCH_DIR", "kvm-scratch")) / "share");
    fs::remove_all(base_);
    fs::create_directories(base_ / "rw");
    fs::create_directories(base_ / "ro");
    fs::create_directories(base_ / "outside");
    std::ofstream(base_ / "outside" / "secret") << kSecret << "\n";
    std::ofstream(base_ / "ro" / "keep") << "kept\n";
    // Host-made symlinks that point outside the share, absolutely and relatively.
    fs::create_symlink(base_ / "outside" / "secret", base_ / "rw" / "outside-abs");
    fs::create_symlink("../outside/secret", base_ / "rw" / "outside-rel");
    fs::create_directory_symlink(base_ / "outside", base_ / "rw" / "outside-dir");
    fs::create_symlink("/etc/passwd", base_ / "rw" / "passwd");
    std::mt19937_64 rng(20261204);
    std::ofstream out(base_ / "rw" / "from-host.bin", std::ios::binary);
    std::vector<uint64_t> chunk((1 << 20) / sizeof(uint64_t));
    for (uint64_t done = 0; done < kFileBytes; done += 1 << 20) {
      for (auto& w : chunk) w = rng();
      out.write(reinterpret_cast<const char*>(chunk.data()), 1 << 20);
    }
  }

  void TearDown() override {
    if (vm_) {
      vm_->kill();
      const fs::path log_dir = KvmTestEnv::get().log_dir;
      std::error_code ec;
      fs::create_directories(log_dir, ec);
      std::ofstream(log_dir / "ShareTest.log") << "--- console (stdout) ---\n"
                                               << vm_->stdout_text() << "\n--- vmm log ---\n"
                                               << vm_->stderr_text();
      if (HasFailure()) {
        std::fprintf(stderr, "--- console ---\n%s\n--- vmm stderr ---\n%s\n",
                     vm_->stdout_text().c_str(), vm_->stderr_text().c_str());
      }
    }
    if (std::getenv("VMM_TEST_KEEP_IMAGES") == nullptr) {
      std::error_code ec;
      fs::remove_all(base_, ec);
    }
  }

  fs::path base_;
  std::optional<Subprocess> vm_;
};

TEST_F(ShareTest, GuestMovesDataBothWaysAndCannotLeaveTheShare) {
  const KvmTestEnv& env = KvmTestEnv::get();
  std::string cmdline = "console=ttyS0 reboot=k panic=-1 quiet pci=noearly vmmtest=9p";
  if (!env.cmdline_extra.empty()) cmdline += " " + env.cmdline_extra;
  vm_.emplace(Subprocess::spawn({env.vmm_bin, "run", "--kernel", env.kernel, "--initrd", env.initrd,
                                 "--cmdline", cmdline, "--cpus", "1", "--memory", "512M", "--share",
                                 (base_ / "rw").string() + ",tag=rw", "--share",
                                 (base_ / "ro").string() + ",tag=ro,readonly=on"}));
  ASSERT_TRUE(vm_->wait_for_stdout("VMMTEST: 9p done", deadline_).has_value())
      << "the guest never finished the share checks";
  const auto status = vm_->wait(deadline_);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(status->exited && status->code == 0) << status->describe();
  const std::string& console = vm_->stdout_text();

  EXPECT_NE(console.find("VMMTEST: 9p mounted"), std::string::npos);
  // Host to guest: the guest's checksum of the host's file.
  const std::string host_sha = sha256_of(base_ / "rw" / "from-host.bin", deadline_);
  ASSERT_EQ(host_sha.size(), 64U);
  EXPECT_EQ(marker(console, "9p host_sha"), host_sha);
  // Guest to host: what the guest wrote is on the host, byte for byte.
  const auto guest_sha = marker(console, "9p guest_sha");
  ASSERT_TRUE(guest_sha.has_value());
  EXPECT_EQ(guest_sha->size(), 64U);
  ASSERT_EQ(fs::file_size(base_ / "rw" / "from-guest.bin"), kFileBytes);
  EXPECT_EQ(sha256_of(base_ / "rw" / "from-guest.bin", deadline_), *guest_sha);
  // The read-only share reads but refuses changes, and the host directory is unchanged.
  EXPECT_EQ(marker(console, "9p ro_write"), "refused");
  EXPECT_EQ(marker(console, "9p ro_remove"), "refused");
  EXPECT_EQ(marker(console, "9p ro_read"), "kept");
  EXPECT_FALSE(fs::exists(base_ / "ro" / "new"));
  EXPECT_TRUE(fs::exists(base_ / "ro" / "keep"));
  // No read through `..` or a symlink pointing outside reached the host's secret.
  EXPECT_NE(console.find("VMMTEST: 9p escape /mnt/rw/outside-abs"), std::string::npos);
  EXPECT_EQ(console.find(kSecret), std::string::npos) << "the guest read a file outside the share";
}

}  // namespace
}  // namespace vmm::test
