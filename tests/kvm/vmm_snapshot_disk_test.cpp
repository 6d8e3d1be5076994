// snapshot=on end to end: two guests boot on one small image at the same time, each writes
// pseudo-random data over the whole disk (firmware/test-init.sh, vmmtest=overwrite=vda) and
// reads back what it wrote, while a writable vmm on the image is still refused; afterwards the
// image's SHA-256 is what it was before. Kept cheap: the minimal kernel, the test initramfs, a
// 4 MiB image, both VMs at once. Consoles go to VMM_KVM_LOG_DIR/SnapshotDisk_vm<N>.log.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <chrono>
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
using namespace std::chrono_literals;

constexpr uint64_t kImageBytes = uint64_t{4} << 20;

std::string sha256_of(const fs::path& file, Clock::time_point deadline) {
  const ToolResult r = run_tool({"sha256sum", file.string()}, deadline);
  return r.ok() && r.out.size() >= 64 ? r.out.substr(0, 64) : std::string{};
}

class SnapshotDiskTest : public KvmTest {};

TEST_F(SnapshotDiskTest, TwoGuestsWriteAllOverOneImageAtOnceAndItStaysUnchanged) {
  const KvmTestEnv& env = KvmTestEnv::get();
  const std::string kernel =
      env_or("VMM_TEST_MINIMAL_KERNEL", cache_dir() + "/minimal-kernel/bzImage");
  ASSERT_EQ(::access(kernel.c_str(), R_OK), 0)
      << "missing " << kernel << " (built by firmware/build-minimal-kernel.sh)";
  const fs::path scratch = fs::path(env_or("VMM_TEST_SCRATCH_DIR", "kvm-scratch")) / "snapshot";
  fs::remove_all(scratch);
  fs::create_directories(scratch);
  const fs::path image = scratch / "golden.img";
  {
    std::mt19937_64 rng{static_cast<uint64_t>(::getpid())};
    std::vector<uint64_t> words(kImageBytes / sizeof(uint64_t));
    for (auto& w : words) w = rng();
    std::ofstream(image, std::ios::binary)
        .write(reinterpret_cast<const char*>(words.data()),
               static_cast<std::streamsize>(kImageBytes));
  }
  const std::string before = sha256_of(image, deadline_);
  ASSERT_EQ(before.size(), 64U);

  std::string cmdline = "console=ttyS0 reboot=k panic=-1 quiet vmmtest=overwrite=vda";
  if (!env.cmdline_extra.empty()) cmdline += " " + env.cmdline_extra;
  const std::vector<std::string> argv = {
      env.vmm_bin, "run",  "--kernel",  kernel,  "--initrd", env.initrd,
      "--memory",  "128M", "--cmdline", cmdline, "--disk",   image.string() + ",snapshot=on"};
  const auto start = Clock::now();
  std::array<std::optional<Subprocess>, 2> vms;
  for (auto& vm : vms) vm.emplace(Subprocess::spawn(argv));
  std::array<bool, 2> written{};
  for (size_t i = 0; i < vms.size(); ++i) {
    written[i] = vms[i]->wait_for_stdout("VMMTEST: overwrite done", deadline_).has_value();
  }
  const auto both_written = Clock::now();

  // Both guests are still running (each waits for a line): a writer is refused before it boots.
  Subprocess writer =
      Subprocess::spawn({env.vmm_bin, "run", "--kernel", kernel, "--memory", "128M", "--cmdline",
                         "console=ttyS0 panic=-1", "--disk", image.string()});
  const std::optional<ExitStatus> writer_status =
      writer.wait(std::min(deadline_, Clock::now() + 60s));
  if (!writer_status) writer.kill();

  std::array<std::optional<ExitStatus>, 2> status;
  for (size_t i = 0; i < vms.size(); ++i) {
    if (vms[i]->write_stdin("\n", deadline_)) status[i] = vms[i]->wait(deadline_);
    if (!status[i]) vms[i]->kill();
  }
  const auto end = Clock::now();
  const std::string after = sha256_of(image, deadline_);

  const fs::path log_dir = env.log_dir;
  std::error_code ec;
  fs::create_directories(log_dir, ec);
  for (size_t i = 0; i < vms.size(); ++i) {
    std::ofstream(log_dir / ("SnapshotDisk_vm" + std::to_string(i) + ".log"))
        << "--- console ---\n"
        << vms[i]->stdout_text() << "\n--- vmm stderr ---\n"
        << vms[i]->stderr_text() << "\n";
  }
  const auto seconds = [](auto d) { return std::chrono::duration<double>(d).count(); };
  std::fprintf(stderr,
               "snapshot disks: both guests written after %.1f s, all done after %.1f s; image "
               "sha256 before %s, after %s\n",
               seconds(both_written - start), seconds(end - start), before.c_str(), after.c_str());
  RecordProperty("image_sha256_before", before);
  RecordProperty("image_sha256_after", after);

  std::array<std::string, 2> guest_sha;
  for (size_t i = 0; i < vms.size(); ++i) {
    const std::string console = vms[i]->stdout_text();
    const std::string where =
        " (vm " + std::to_string(i) + ", log " +
        (log_dir / ("SnapshotDisk_vm" + std::to_string(i) + ".log")).string() + ")";
    ASSERT_TRUE(written[i]) << "no 'VMMTEST: overwrite done'" << where;
    ASSERT_TRUE(status[i].has_value()) << "did not end after its line" << where;
    EXPECT_TRUE(status[i]->exited && status[i]->code == 0) << status[i]->describe() << where;
    EXPECT_EQ(marker(console, "overwrite_bytes"), std::to_string(kImageBytes)) << where;
    EXPECT_FALSE(marker(console, "overwrite_error").has_value()) << where;
    guest_sha[i] = marker(console, "overwrite_written_sha256").value_or("");
    EXPECT_EQ(guest_sha[i].size(), 64U) << where;
    EXPECT_EQ(marker(console, "overwrite_readback_sha256"), guest_sha[i])
        << "the guest did not read back what it wrote" << where;
    EXPECT_NE(guest_sha[i], before) << "the guest wrote what the image already held" << where;
  }
  EXPECT_NE(guest_sha[0], guest_sha[1]) << "the two guests wrote the same data";

  ASSERT_TRUE(writer_status.has_value()) << "the writable vmm kept running";
  EXPECT_TRUE(writer_status->exited && writer_status->code == 2)
      << writer_status->describe() << "; stderr: " << writer.stderr_text();
  EXPECT_NE(writer.stderr_text().find(image.string() + " is in use"), std::string::npos)
      << writer.stderr_text();

  EXPECT_EQ(after, before) << "the image changed under snapshot=on";
  fs::remove_all(scratch, ec);
}

}  // namespace
}  // namespace vmm::test
