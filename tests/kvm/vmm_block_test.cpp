// End-to-end tests of virtio-blk and virtio-console: the real vmm boots a kernel whose root file
// system is an ext4 disk image (firmware/build-test-rootfs.sh), and the guest's init
// (firmware/rootfs-init.sh) exercises further disks and prints `VMMTEST:` markers; the host then
// checks the image files.
//
// One boot per transport covers every check, because a boot costs 15-25 s in the sandbox:
//   pci:  Debian's stock kernel + firmware/build-rootfs-initramfs.sh (virtio and ext4 modules)
//   mmio: the minimal kernel (firmware/build-minimal-kernel.sh: virtio built in, mmio devices
//         from the command line), no initramfs
// The scenario runs once when the first test of its transport asks for it; each test then checks
// one property of the recorded result. Disks of one boot:
//   vda root.ext4 (root, rw)  vdb data.img (64 MiB, serial vmm-data, queues=2)
//   vdc ro.img (readonly=on)
//   vdd durable.img (cache=none)  vde discard.img (on a file system that can punch holes)
// They are made under VMM_TEST_SCRATCH_DIR and removed afterwards (VMM_TEST_KEEP_IMAGES=1 keeps
// them); the boot's console and vmm's log go to VMM_KVM_LOG_DIR/BlockScenario_<transport>.log.
// Order of events: the guest writes and checks vdb, probes vdc, discards vde, writes a token to
// vdd and to /durable-token on the root and fsyncs both ("synced"); the test then starts a second
// vmm on data.img (must be refused), talks to a shell on hvc0, and SIGKILLs vmm.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "kvm_test_env.hpp"
#include "kvm_test_support.hpp"
#include "subprocess.hpp"

namespace vmm::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kDataBytes = 64 * kMiB;
constexpr uint64_t kReadOnlyBytes = 4 * kMiB;
constexpr uint64_t kDurableBytes = 4 * kMiB;
constexpr uint64_t kDiscardBytes = 16 * kMiB;

enum class Transport { kPci, kMmio };

std::string transport_name(Transport t) { return t == Transport::kPci ? "pci" : "mmio"; }
void PrintTo(Transport t, std::ostream* os) { *os << transport_name(t); }

// sha256 of the first `bytes` bytes of a file, as sha256sum prints it; empty on failure.
std::string sha256_prefix(const fs::path& file, uint64_t bytes, Clock::time_point deadline) {
  const ToolResult r = run_tool(
      {"sh", "-c", "head -c \"$1\" \"$2\" | sha256sum", "sh", std::to_string(bytes), file.string()},
      deadline);
  if (!r.ok() || r.out.size() < 64) return {};
  return r.out.substr(0, 64);
}

void write_file(const fs::path& path, uint64_t bytes, std::mt19937_64* rng) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (rng == nullptr) {
    out.close();
    fs::resize_file(path, bytes);  // sparse: nothing allocated
    return;
  }
  std::vector<uint64_t> chunk(kMiB / sizeof(uint64_t));
  for (uint64_t done = 0; done < bytes; done += kMiB) {
    for (auto& word : chunk) word = (*rng)();
    out.write(reinterpret_cast<const char*>(chunk.data()), static_cast<std::streamsize>(kMiB));
  }
  out.flush();
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// st_blocks after making sure the file's data is on the file system.
long long allocated_blocks(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ::fsync(fd);
  struct stat st {};
  const int rc = ::fstat(fd, &st);
  ::close(fd);
  return rc == 0 ? static_cast<long long>(st.st_blocks) : -1;
}

// Whether punching a hole in a file under dir gives the blocks back (9p shares cannot; tmpfs
// and local disks can). The discard test needs such a directory to see the image shrink.
bool can_punch_holes(const fs::path& dir) {
  const fs::path probe = dir / ".punch-probe";
  std::mt19937_64 rng{1};
  try {
    write_file(probe, kMiB, &rng);
  } catch (const std::exception&) {
    return false;
  }
  const long long before = allocated_blocks(probe);
  const int fd = ::open(probe.c_str(), O_RDWR | O_CLOEXEC);
  bool ok = false;
  if (fd >= 0) {
    ok = ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(kMiB)) ==
         0;
    ::close(fd);
  }
  ok = ok && allocated_blocks(probe) < before;
  std::error_code ec;
  fs::remove(probe, ec);
  return ok;
}

// /sys/block/vdb/mq of a boot, as `echo $(ls)` prints it: the 2-vCPU boot uses both queues.
std::string expected_hw_queues(Transport t) { return t == Transport::kMmio ? "0 1" : "0"; }

// Everything one boot produced, for the tests to check.
struct ScenarioResult {
  std::string problem;  // set when the scenario could not run to the end
  std::string console;  // vmm's stdout: ttyS0 and hvc0
  std::string vmm_log;  // vmm's stderr
  std::string log_path;
  std::string token;
  bool synced = false;
  // The second vmm on data.img.
  std::optional<ExitStatus> second_status;
  std::string second_stderr;
  std::string data_path;
  // hvc0 shell.
  bool hvc_ready = false;
  bool hvc_answered = false;
  bool hvc_tty = false;
  bool hvc_root_ext4 = false;
  std::string hvc_hw_queues;  // what /sys/block/vdb/mq holds: "0 1" with 2 vCPUs, "0" with 1
  std::string hvc_default_hw_queues;  // the same for vda, which has no queues=: one per vCPU
  // Host side, after SIGKILL.
  std::string data_sha256;
  uint64_t data_size = 0;
  std::string ro_sha256_before;
  std::string ro_sha256_after;
  std::string durable_head;
  std::string root_token;  // /durable-token in the root image, after e2fsck replays the journal
  std::string root_fsck;
  long long discard_blocks_before = -1;
  long long discard_blocks_after = -1;
  std::string discard_dir;

  [[nodiscard]] std::optional<std::string> mark(const std::string& key) const {
    return marker(console, key);
  }
};

class ScenarioRunner {
 public:
  explicit ScenarioRunner(Transport transport) : transport_(transport) {}

  ScenarioResult run() {
    ScenarioResult r;
    try {
      run_into(r);
    } catch (const std::exception& e) {
      r.problem = std::string("scenario aborted: ") + e.what();
    }
    if (vm_) {
      vm_->kill();
      r.console = vm_->stdout_text();
      r.vmm_log = vm_->stderr_text();
    }
    save_log(r);
    if (!r.problem.empty()) {
      std::fprintf(stderr,
                   "--- %s scenario failed: %s\n--- console ---\n%s\n--- vmm stderr ---\n%s\n",
                   transport_name(transport_).c_str(), r.problem.c_str(), r.console.c_str(),
                   r.vmm_log.c_str());
    }
    return r;
  }

 private:
  void run_into(ScenarioResult& r) {
    const KvmTestEnv& env = KvmTestEnv::get();
    r.problem = kvm_environment_problem();
    if (!r.problem.empty()) return;
    const auto deadline = Clock::now() + 2 * env.test_limit;
    const std::string cache = cache_dir();
    const bool pci = transport_ == Transport::kPci;
    const std::string kernel =
        pci ? env.kernel : env_or("VMM_TEST_MINIMAL_KERNEL", cache + "/minimal-kernel/bzImage");
    const std::string initrd =
        env_or("VMM_TEST_ROOTFS_INITRD", cache + "/rootfs-initramfs.cpio.gz");
    const std::string rootfs = env_or("VMM_TEST_ROOTFS_IMAGE", cache + "/test-rootfs.ext4");
    for (const auto& [path, how] :
         {std::pair{kernel, std::string(pci ? "firmware/fetch-debian-kernel.sh"
                                            : "firmware/build-minimal-kernel.sh")},
          std::pair{rootfs, std::string("firmware/build-test-rootfs.sh")},
          std::pair{pci ? initrd : rootfs, std::string("firmware/build-rootfs-initramfs.sh")}}) {
      if (::access(path.c_str(), R_OK) != 0) {
        r.problem = "missing " + path + " (built by " + how + "; the kvm_assets test runs it)";
        return;
      }
    }

    // Images live under the build directory (the sandbox shares it read-write; its /tmp is a
    // small tmpfs), except the discard image, which needs a file system that punches holes.
    const fs::path scratch =
        fs::path(env_or("VMM_TEST_SCRATCH_DIR", "kvm-scratch")) / transport_name(transport_);
    fs::remove_all(scratch);
    fs::create_directories(scratch);
    fs::path discard_dir = scratch;
    if (!can_punch_holes(discard_dir)) {
      discard_dir = fs::temp_directory_path() / ("vmm-block-test-" + std::to_string(::getpid()));
      fs::create_directories(discard_dir);
      if (!can_punch_holes(discard_dir)) {
        r.problem = "neither " + scratch.string() + " nor " + discard_dir.string() +
                    " can punch holes (fallocate), so DISCARD cannot be observed";
        return;
      }
    }
    r.discard_dir = discard_dir.string();

    const fs::path root_img = scratch / "root.ext4";
    const fs::path data_img = scratch / "data.img";
    const fs::path ro_img = scratch / "ro.img";
    const fs::path durable_img = scratch / "durable.img";
    const fs::path discard_img = discard_dir / "discard.img";
    fs::copy_file(rootfs, root_img, fs::copy_options::overwrite_existing);
    std::mt19937_64 rng{static_cast<uint64_t>(::getpid())};
    write_file(data_img, kDataBytes, nullptr);
    write_file(ro_img, kReadOnlyBytes, &rng);
    write_file(durable_img, kDurableBytes, nullptr);
    write_file(discard_img, kDiscardBytes, &rng);
    r.data_path = data_img.string();
    r.ro_sha256_before = sha256_prefix(ro_img, kReadOnlyBytes, deadline);
    r.discard_blocks_before = allocated_blocks(discard_img);
    r.token = "vmmtoken-" + std::to_string(::getpid()) + "-" +
              std::to_string(std::chrono::system_clock::now().time_since_epoch().count());

    std::string cmdline =
        "console=ttyS0 reboot=k panic=-1 quiet pci=noearly root=/dev/vda rootfstype=ext4 rw "
        "rootwait "
        "rd.emergency=reboot vmmtest=info,blkwrite:vdb,ro:vdc,discard:vde,fsync:vdd,hvc,reboot "
        "vmmtoken=" +
        r.token;
    if (!env.cmdline_extra.empty()) cmdline += " " + env.cmdline_extra;
    std::vector<std::string> argv = {env.vmm_bin, "run", "--kernel", kernel};
    if (pci) argv.insert(argv.end(), {"--initrd", initrd});
    argv.insert(argv.end(), {"--cmdline",   cmdline,
                             "--cpus",      std::to_string(vcpus()),
                             "--memory",    "512M",
                             "--console",   "virtio",
                             "--transport", transport_name(transport_),
                             "--disk",      root_img.string(),
                             "--disk",      data_img.string() + ",serial=vmm-data,queues=2",
                             "--disk",      ro_img.string() + ",readonly=on,serial=vmm-ro",
                             "--disk",      durable_img.string() + ",cache=none",
                             "--disk",      discard_img.string()});
    for (const auto& a : argv) {
      command_line_ += (command_line_.empty() ? "" : " ") +
                       (a.find(' ') != std::string::npos ? "'" + a + "'" : a);
    }
    vm_.emplace(Subprocess::spawn(argv));

    r.synced = vm_->wait_for_stdout("VMMTEST: synced", deadline).has_value();
    if (!r.synced) {
      r.problem = "the guest never reported 'VMMTEST: synced'";
      return;
    }

    // A second vmm on the image the first holds: refused before it boots anything.
    {
      Subprocess second =
          Subprocess::spawn({env.vmm_bin, "run", "--kernel", kernel, "--memory", "128M",
                             "--cmdline", "console=ttyS0 panic=-1", "--disk", data_img.string()});
      r.second_status = second.wait(std::min(deadline, Clock::now() + 60s));
      if (!r.second_status) second.kill();
      r.second_stderr = second.stderr_text();
    }

    // The shell on hvc0 says it is ready through hvc0 itself; input reaches it from our stdin.
    const auto ready = vm_->wait_for_stdout("VMMTEST: hvc shell ready", deadline);
    r.hvc_ready = ready.has_value();
    if (r.hvc_ready &&
        vm_->write_stdin(
            "tty; echo $((6*7)); grep ' / ' /proc/mounts; echo mq:$(ls /sys/block/vdb/mq); "
            "echo mqdefault:$(ls /sys/block/vda/mq)\n",
            deadline)) {
      // The tty echoes the command line, which contains neither answer.
      r.hvc_answered = vm_->wait_for_stdout("42\r\n", deadline, *ready).has_value();
      r.hvc_tty = vm_->wait_for_stdout("/dev/hvc0\r\n", deadline, *ready).has_value();
      r.hvc_root_ext4 = vm_->wait_for_stdout(" / ext4 rw", deadline, *ready).has_value();
      // The echoed command line holds "mq:$(ls", never the expanded answer.
      const std::string expected = expected_hw_queues(transport_);
      if (vm_->wait_for_stdout("mq:" + expected + "\r\n", std::min(deadline, Clock::now() + 30s),
                               *ready)) {
        r.hvc_hw_queues = expected;
      }
      if (vm_->wait_for_stdout("mqdefault:" + expected + "\r\n",
                               std::min(deadline, Clock::now() + 30s), *ready)) {
        r.hvc_default_hw_queues = expected;
      }
    }

    // No shutdown: whatever the guest fsynced must already be in the images.
    vm_->kill();

    r.data_size = fs::file_size(data_img);
    r.data_sha256 = sha256_prefix(data_img, kDataBytes, deadline);
    r.ro_sha256_after = sha256_prefix(ro_img, kReadOnlyBytes, deadline);
    {
      std::ifstream in(durable_img, std::ios::binary);
      r.durable_head.resize(r.token.size());
      in.read(r.durable_head.data(), static_cast<std::streamsize>(r.durable_head.size()));
    }
    r.discard_blocks_after = allocated_blocks(discard_img);
    // The fsynced file may sit in the journal only; e2fsck replays it (on a copy) first.
    const fs::path root_copy = scratch / "root-after.ext4";
    fs::copy_file(root_img, root_copy, fs::copy_options::overwrite_existing);
    const ToolResult fsck = run_tool({"e2fsck", "-fy", root_copy.string()}, deadline);
    r.root_fsck = fsck.status.describe() + ": " + fsck.out + fsck.err;
    const ToolResult cat =
        run_tool({"debugfs", "-R", "cat /durable-token", root_copy.string()}, deadline);
    r.root_token = cat.out;
    while (!r.root_token.empty() && r.root_token.back() == '\n') r.root_token.pop_back();
    // The facts are recorded; the images (about 140 MB) go unless asked to stay.
    if (discard_dir != scratch) fs::remove_all(discard_dir);
    if (env_or("VMM_TEST_KEEP_IMAGES", "0") == "0") fs::remove_all(scratch);
  }

  void save_log(ScenarioResult& r) const {
    const fs::path log_dir = KvmTestEnv::get().log_dir;
    std::error_code ec;
    fs::create_directories(log_dir, ec);
    const fs::path path = log_dir / ("BlockScenario_" + transport_name(transport_) + ".log");
    std::ofstream(path) << "$ " << command_line_ << "\n--- console (stdout) ---\n"
                        << r.console << "\n--- vmm log (stderr) ---\n"
                        << r.vmm_log << "\n--- second vmm (stderr) ---\n"
                        << r.second_stderr << "\n--- e2fsck of the root image ---\n"
                        << r.root_fsck << "\n";
    r.log_path = path.string();
  }

  // Linux uses one request queue per vCPU at most: the minimal kernel's boot gets 2 vCPUs and
  // uses both of vdb's queues; the stock kernel's boot keeps 1 (a driver using fewer queues
  // than offered) and its shorter boot.
  [[nodiscard]] unsigned vcpus() const { return transport_ == Transport::kMmio ? 2 : 1; }

  Transport transport_;
  std::optional<Subprocess> vm_;
  std::string command_line_;
};

class BlockScenarioTest : public ::testing::TestWithParam<Transport> {
 protected:
  void SetUp() override {
    const ScenarioResult& r = result();
    if (!r.problem.empty()) GTEST_FAIL() << r.problem << " (log: " << r.log_path << ")";
  }

  // Runs the boot of this transport the first time a test asks for it.
  const ScenarioResult& result() {
    static std::map<Transport, std::unique_ptr<ScenarioResult>> results;
    auto& slot = results[GetParam()];
    if (!slot) slot = std::make_unique<ScenarioResult>(ScenarioRunner(GetParam()).run());
    return *slot;
  }

  std::string where() { return " (log: " + result().log_path + ")"; }
};

TEST_P(BlockScenarioTest, BootsWithRootOnExt4Disk) {
  const ScenarioResult& r = result();
  EXPECT_NE(r.console.find("VMMTEST: rootfs init started"), std::string::npos) << where();
  EXPECT_EQ(r.mark("root_mount"), "/dev/vda ext4 rw") << where();
}

TEST_P(BlockScenarioTest, SeveralDisksWithSizesFlagsAndSerials) {
  const ScenarioResult& r = result();
  EXPECT_EQ(r.mark("disk_vda"), "sectors:65536 ro:0 serial:") << where();
  EXPECT_EQ(r.mark("disk_vdb"),
            "sectors:" + std::to_string(kDataBytes / 512) + " ro:0 serial:vmm-data")
      << where();
  EXPECT_EQ(r.mark("disk_vdc"),
            "sectors:" + std::to_string(kReadOnlyBytes / 512) + " ro:1 serial:vmm-ro")
      << where();
  EXPECT_EQ(r.mark("disk_vdd"), "sectors:" + std::to_string(kDurableBytes / 512) + " ro:0 serial:")
      << where();
  EXPECT_EQ(r.mark("disk_vde"), "sectors:" + std::to_string(kDiscardBytes / 512) + " ro:0 serial:")
      << where();
  for (const char* disk : {"vda", "vdb", "vdc", "vdd", "vde"}) {
    EXPECT_EQ(r.mark(std::string("transport_") + disk), transport_name(GetParam()))
        << disk << " is not on the transport asked for" << where();
  }
}

TEST_P(BlockScenarioTest, GuestWrites64MiBThatTheHostReadsBack) {
  const ScenarioResult& r = result();
  const auto written = r.mark("blkwrite_written_sha256");
  ASSERT_TRUE(written.has_value()) << "no blkwrite_written_sha256 marker" << where();
  EXPECT_EQ(r.mark("blkwrite_mib"), "64") << where();
  EXPECT_EQ(written->size(), 64U) << where();
  EXPECT_EQ(r.mark("blkwrite_readback_sha256"), *written)
      << "the guest read back other data than it wrote" << where();
  EXPECT_EQ(r.data_sha256, *written)
      << "the host image differs from what the guest wrote" << where();
  EXPECT_EQ(r.data_size, kDataBytes) << "the image changed size" << where();
}

TEST_P(BlockScenarioTest, ReadOnlyDiskRefusesWritesAndStaysUnchanged) {
  const ScenarioResult& r = result();
  EXPECT_EQ(r.mark("ro_sysfs"), "1") << "the guest does not see the disk as read-only" << where();
  EXPECT_EQ(r.mark("ro_write"), "refused") << where();
  ASSERT_FALSE(r.ro_sha256_before.empty());
  EXPECT_EQ(r.mark("ro_read_sha256"), r.ro_sha256_before)
      << "the guest reads other data than the image holds" << where();
  EXPECT_EQ(r.ro_sha256_after, r.ro_sha256_before) << "the read-only image changed" << where();
}

TEST_P(BlockScenarioTest, FsyncedDataSurvivesSigkill) {
  const ScenarioResult& r = result();
  ASSERT_TRUE(r.synced) << where();
  EXPECT_EQ(r.durable_head, r.token)
      << "raw disk write + fsync (cache=none) not in the image" << where();
  EXPECT_EQ(r.root_token, r.token)
      << "fsynced file on the ext4 root not in the image; e2fsck: " << r.root_fsck << where();
}

TEST_P(BlockScenarioTest, DiscardShrinksTheImage) {
  const ScenarioResult& r = result();
  EXPECT_NE(r.mark("discard_max_bytes"), "0") << "the guest sees no DISCARD support" << where();
  EXPECT_EQ(r.mark("discard"), "ok") << where();
  EXPECT_EQ(r.mark("discard_zeroes"), "yes") << where();
  ASSERT_GT(r.discard_blocks_before, 0) << r.discard_dir;
  // The whole disk was discarded; a little may stay allocated at the host's granularity.
  EXPECT_LT(r.discard_blocks_after, r.discard_blocks_before / 4)
      << "allocated 512-byte blocks before " << r.discard_blocks_before << ", after "
      << r.discard_blocks_after << " (image in " << r.discard_dir << ")" << where();
}

TEST_P(BlockScenarioTest, SecondVmmOnTheSameWritableImageIsRefused) {
  const ScenarioResult& r = result();
  ASSERT_TRUE(r.second_status.has_value()) << "the second vmm kept running" << where();
  EXPECT_TRUE(r.second_status->exited && r.second_status->code == 2)
      << r.second_status->describe() << "; stderr: " << r.second_stderr;
  EXPECT_NE(r.second_stderr.find(r.data_path), std::string::npos)
      << "the message does not name the image: " << r.second_stderr;
  EXPECT_NE(r.second_stderr.find("in use"), std::string::npos)
      << "the message does not say the image is in use: " << r.second_stderr;
}

TEST_P(BlockScenarioTest, Hvc0CarriesAnInteractiveShell) {
  const ScenarioResult& r = result();
  ASSERT_TRUE(r.hvc_ready) << "no 'VMMTEST: hvc shell ready' on hvc0" << where();
  EXPECT_TRUE(r.hvc_answered) << "no '42' line after the shell command" << where();
  EXPECT_TRUE(r.hvc_tty) << "the shell's tty is not /dev/hvc0" << where();
  EXPECT_TRUE(r.hvc_root_ext4) << "the shell does not see the ext4 root" << where();
}

TEST_P(BlockScenarioTest, MultiQueueDiskGivesTheGuestAQueuePerVcpu) {
  const ScenarioResult& r = result();
  ASSERT_TRUE(r.hvc_ready) << "no 'VMMTEST: hvc shell ready' on hvc0" << where();
  EXPECT_EQ(r.hvc_hw_queues, expected_hw_queues(GetParam()))
      << "the guest's blk-mq queues for vdb (queues=2) are not the expected ones" << where();
  EXPECT_EQ(r.hvc_default_hw_queues, expected_hw_queues(GetParam()))
      << "vda, without queues=, does not have one blk-mq queue per vCPU" << where();
}

INSTANTIATE_TEST_SUITE_P(Transports, BlockScenarioTest,
                         ::testing::Values(Transport::kPci, Transport::kMmio),
                         [](const ::testing::TestParamInfo<Transport>& param_info) {
                           return param_info.param == Transport::kPci
                                      ? std::string("Pci")
                                      : std::string("MmioMinimalKernel");
                         });

}  // namespace
}  // namespace vmm::test
