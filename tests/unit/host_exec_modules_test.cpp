// Which kernel modules --exec carries, found in a modules directory laid out as Debian's (and
// firmware/fetch-debian-kernel.sh's), and the kernel options it refuses to boot without.
#include "loader/host_exec_modules.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "vmm/common/error.hpp"

namespace vmm::loader {
namespace {

namespace fs = std::filesystem;

class ModulesDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("vmm-modules-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void add(const std::string& relative, const std::string& content) {
    const fs::path path = dir_ / "kernel" / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << content;
  }
  void add_all_but(const std::string& skipped) {
    for (const auto module : kHostExecModules) {
      if (module != skipped) add(std::string(module), std::string(module));
    }
  }

  fs::path dir_;
};

TEST_F(ModulesDir, AllModulesInLoadOrderWithTheirBytes) {
  add_all_but("");
  const auto modules = collect_host_exec_modules(dir_);
  ASSERT_EQ(modules.size(), kHostExecModules.size());
  for (size_t i = 0; i < modules.size(); ++i) {
    EXPECT_EQ(modules[i].file_name, fs::path(kHostExecModules[i]).filename().string());
    EXPECT_EQ(std::string(modules[i].bytes.begin(), modules[i].bytes.end()), kHostExecModules[i]);
  }
  EXPECT_EQ(modules.front().file_name, "virtio_ring.ko");  // dependencies come first
  EXPECT_EQ(modules.back().file_name, "overlay.ko");
}

TEST_F(ModulesDir, BuiltInModulesAreSkippedAndCompressedOnesTaken) {
  add_all_but("fs/9p/9p.ko");
  fs::remove(dir_ / "kernel/fs/overlayfs/overlay.ko");
  add("fs/overlayfs/overlay.ko.xz", "xz");
  std::ofstream(dir_ / "modules.builtin") << "kernel/fs/9p/9p.ko\nkernel/fs/ext4/ext4.ko\n";
  const auto modules = collect_host_exec_modules(dir_);
  ASSERT_EQ(modules.size(), kHostExecModules.size() - 1);
  for (const auto& module : modules) EXPECT_NE(module.file_name, "9p.ko");
  EXPECT_EQ(modules.back().file_name, "overlay.ko.xz");
}

TEST_F(ModulesDir, AMissingEssentialModuleIsAUserError) {
  add_all_but("fs/9p/9p.ko");
  try {
    (void)collect_host_exec_modules(dir_);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidConfig);
    EXPECT_NE(std::string(e.what()).find("no 9p"), std::string::npos) << e.what();
  }
}

TEST_F(ModulesDir, AMissingHelperModuleIsLeftToTheKernel) {
  add_all_but("fs/fscache/fscache.ko");  // built in, or not needed by this kernel
  EXPECT_EQ(collect_host_exec_modules(dir_).size(), kHostExecModules.size() - 1);
}

TEST(HostExecModules, CandidatesForARelease) {
  const auto dirs = modules_dir_candidates("/k/bzImage", "6.1.0-57-amd64", "/root/.cache/vmm");
  ASSERT_EQ(dirs.size(), 4U);
  EXPECT_EQ(dirs[0], "/lib/modules/6.1.0-57-amd64");
  EXPECT_EQ(dirs[2], "/k/modules/6.1.0-57-amd64");
  EXPECT_EQ(dirs[3], "/root/.cache/vmm/kernel/modules/6.1.0-57-amd64");
  EXPECT_EQ(modules_dir_candidates("/k/bzImage", "6.1.0", "").size(), 3U);
  const auto configs = kernel_config_candidates("/cache/kernel/bzImage", "6.1.0");
  EXPECT_EQ(configs.front(), "/cache/kernel/config-6.1.0");
  EXPECT_EQ(configs.back(), "/boot/config-6.1.0");
}

TEST(HostExecModules, MissingKernelOption) {
  const std::string complete =
      "CONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO_CONSOLE=m\nCONFIG_NET_9P_VIRTIO=m\nCONFIG_9P_FS=m\n"
      "CONFIG_OVERLAY_FS=y\n";
  EXPECT_EQ(missing_kernel_option(complete), std::nullopt);
  EXPECT_EQ(missing_kernel_option("CONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO_CONSOLE=y\n"
                                  "# CONFIG_NET_9P is not set\n"),
            "CONFIG_NET_9P_VIRTIO");
  // A longer option with the same prefix is not the option.
  EXPECT_EQ(missing_kernel_option("CONFIG_VIRTIO_PCI_LEGACY=y\n"), "CONFIG_VIRTIO_PCI");
  EXPECT_EQ(missing_kernel_option(""), "CONFIG_VIRTIO_PCI");
}

}  // namespace
}  // namespace vmm::loader
