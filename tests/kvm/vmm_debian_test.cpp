// A real distribution under vmm: the Debian 12 systemd image of firmware/build-debian-image.sh,
// booted on Debian's stock kernel (with the rootfs initramfs) and on the minimal kernel. Each
// boot logs in on the serial console (root, no password), waits for systemd to finish booting,
// checks that no unit failed, and then ends the VM the way a user would: systemctl poweroff,
// systemctl reboot, or the ACPI power button from the per-VM API. On the stock kernel the VM
// also has a vsock device, which udev must bind to vmw_vsock_virtio_transport by its modalias
// (the image carries the kernel's vsock modules).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "kvm_test_env.hpp"
#include "kvm_test_support.hpp"
#include "subprocess.hpp"

namespace vmm::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUuid = "0f6e2f8c-53a4-4a59-b1d2-7c0e5d9a3b11";

enum class GuestKernel { kStock, kMinimal };
enum class Ending { kPowerOff, kReboot, kPowerButton };

struct DebianCase {
  GuestKernel kernel;
  Ending ending;
};

std::string case_name(const ::testing::TestParamInfo<DebianCase>& info) {
  const char* kernel = info.param.kernel == GuestKernel::kStock ? "StockKernel" : "MinimalKernel";
  const char* ending = info.param.ending == Ending::kPowerOff ? "SystemctlPoweroff"
                       : info.param.ending == Ending::kReboot ? "SystemctlReboot"
                                                              : "PowerButton";
  return std::string(kernel) + ending;
}

class DebianSystemdTest : public KvmTest, public ::testing::WithParamInterface<DebianCase> {
 protected:
  void TearDown() override {
    if (!vm_) return;
    vm_->kill();
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::error_code ec;
    fs::create_directories(KvmTestEnv::get().log_dir, ec);
    const fs::path log =
        fs::path(KvmTestEnv::get().log_dir) / ("Debian_" + case_name({GetParam(), 0}) + ".log");
    std::ofstream(log) << "--- console (stdout) ---\n"
                       << vm_->stdout_text() << "\n--- vmm log (stderr) ---\n"
                       << vm_->stderr_text();
    if (HasFailure()) {
      std::fprintf(stderr, "--- %s: console ---\n%s\n--- vmm stderr ---\n%s\n", info->name(),
                   vm_->stdout_text().c_str(), vm_->stderr_text().c_str());
    }
  }

  // Types a command line on the console; its output follows.
  void type(const std::string& line) { ASSERT_TRUE(vm_->write_stdin(line + "\n", deadline_)); }

  std::optional<Subprocess> vm_;
};

TEST_P(DebianSystemdTest, BootsToMultiUserWithNoFailedUnitAndShutsDownCleanly) {
  const DebianCase c = GetParam();
  // A full systemd boot and shutdown under the nested sandbox takes minutes, not seconds.
  deadline_ = Clock::now() + 3 * KvmTestEnv::get().test_limit;
  const std::string cache = cache_dir();
  const std::string image = env_or("VMM_TEST_DEBIAN_IMAGE", cache + "/debian-12.ext4");
  const std::string kernel =
      c.kernel == GuestKernel::kStock
          ? KvmTestEnv::get().kernel
          : env_or("VMM_TEST_MINIMAL_KERNEL", cache + "/minimal-kernel/bzImage");
  const std::string initrd = env_or("VMM_TEST_ROOTFS_INITRD", cache + "/rootfs-initramfs.cpio.gz");
  for (const auto& path : {image, kernel, initrd}) {
    ASSERT_EQ(::access(path.c_str(), R_OK), 0)
        << "missing " << path << " (the kvm_assets test builds it)";
  }
  // The image boots writable through snapshot=on: the guest's writes go to a throwaway overlay
  // and the cached image is only read, so no test writes a copy of it (459 MB) through the
  // sandbox's shared directory.
  const fs::path socket =
      fs::temp_directory_path() / ("vmm-debian-" + std::to_string(::getpid()) + ".sock");

  std::vector<std::string> argv = {KvmTestEnv::get().vmm_bin,
                                   "run",
                                   "--kernel",
                                   kernel,
                                   "--disk",
                                   image + ",snapshot=on",
                                   "--cpus",
                                   "2",
                                   "--memory",
                                   "1G",
                                   "--api-socket",
                                   socket.string(),
                                   "--uuid",
                                   kUuid};
  const fs::path vsock =
      fs::temp_directory_path() / ("vmm-debian-" + std::to_string(::getpid()) + ".vsock");
  if (c.kernel == GuestKernel::kStock) {
    argv.insert(argv.end(), {"--initrd", initrd, "--vsock", "cid=7,socket=" + vsock.string()});
  }
  const std::string& extra = KvmTestEnv::get().cmdline_extra;
  if (!extra.empty()) argv.insert(argv.end(), {"--cmdline-append", extra});
  vm_.emplace(Subprocess::spawn(argv));

  // systemd's serial getty logs root in; the prompt means the console is ours.
  const auto prompt = vm_->wait_for_stdout("root@vmm-debian:", deadline_);
  ASSERT_TRUE(prompt.has_value()) << "no root shell on the serial console";
  // The markers are split in the typed line, so the tty's echo of it never matches. Kernel
  // messages go to the same console; `dmesg -n 1` keeps them from landing inside a marker.
  type(
      "dmesg -n 1; echo VMMTEST''': product='$(dmidecode -s system-product-name); "
      "echo VMMTEST''': uuid='$(dmidecode -s system-uuid); "
      "echo VMMTEST''': state='$(systemctl is-system-running --wait); "
      "echo VMMTEST''': failed='$(systemctl --failed --no-legend --plain | wc -l); "
      "systemctl --failed --no-legend --plain; "
      "echo VMMTEST''': vsock='$(ls /sys/bus/virtio/drivers/vmw_vsock_virtio_transport "
      "2>/dev/null | grep -c virtio); echo VMMTEST''': checked'");
  ASSERT_TRUE(vm_->wait_for_stdout("VMMTEST: checked", deadline_, *prompt).has_value())
      << "the checks never finished";
  const std::string console = vm_->stdout_text();
  EXPECT_EQ(marker(console, "state"), "running") << "systemd is not in multi-user, all started";
  EXPECT_EQ(marker(console, "failed"), "0") << "units failed";
  // dmidecode in the guest reads vmm's SMBIOS tables.
  EXPECT_EQ(marker(console, "product"), "vmm");
  EXPECT_EQ(marker(console, "uuid"), kUuid);
  if (c.kernel == GuestKernel::kStock) {
    EXPECT_EQ(marker(console, "vsock"), "1") << "udev bound no driver to the vsock device";
  }

  switch (c.ending) {
    case Ending::kPowerOff:
      type("systemctl poweroff");
      break;
    case Ending::kReboot:
      type("systemctl reboot");
      break;
    case Ending::kPowerButton: {
      const ToolResult pressed = run_tool(
          {KvmTestEnv::get().vmm_bin, "ctl", "--api-socket", socket.string(), "power-button"},
          deadline_);
      EXPECT_TRUE(pressed.ok()) << pressed.err;
      break;
    }
  }
  const auto status = vm_->wait(deadline_);
  ASSERT_TRUE(status.has_value()) << "vmm did not exit after the guest was asked to shut down";
  EXPECT_TRUE(status->exited && status->code == 0) << status->describe();
  EXPECT_NE(vm_->stdout_text().find("reboot: "), std::string::npos)
      << "the guest kernel never reached its final reboot/power-off";
}

INSTANTIATE_TEST_SUITE_P(Debian, DebianSystemdTest,
                         ::testing::Values(DebianCase{GuestKernel::kStock, Ending::kPowerOff},
                                           DebianCase{GuestKernel::kStock, Ending::kReboot},
                                           DebianCase{GuestKernel::kMinimal, Ending::kPowerButton},
                                           DebianCase{GuestKernel::kMinimal, Ending::kReboot}),
                         case_name);

}  // namespace
}  // namespace vmm::test
