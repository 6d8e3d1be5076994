// The command-line edits behind `vmm run --kernel K --disk D` booting as written.
#include "vmm/config/kernel_cmdline.hpp"

#include <gtest/gtest.h>

namespace vmm {
namespace {

VmConfig with_disk(bool read_only) {
  VmConfig c;
  c.disks.push_back({});
  c.disks.back().path = "/images/root.ext4";
  c.disks.back().read_only = read_only;
  return c;
}

TEST(KernelCmdline, FindsWholeWordsAndPrefixes) {
  EXPECT_TRUE(has_cmdline_word("console=ttyS0 acpi=off", "acpi=off"));
  EXPECT_FALSE(has_cmdline_word("console=ttyS0 xacpi=off", "acpi=off"));
  EXPECT_FALSE(has_cmdline_word("acpi=offline", "acpi=off"));
  EXPECT_TRUE(has_cmdline_word("a root=/dev/sda1", "root=", true));
  EXPECT_FALSE(has_cmdline_word("rootwait", "root=", true));
  EXPECT_FALSE(has_cmdline_word("", "root=", true));
}

TEST(KernelCmdline, AppendKeepsOneSpace) {
  EXPECT_EQ(append_cmdline("console=ttyS0", "quiet"), "console=ttyS0 quiet");
  EXPECT_EQ(append_cmdline("", "quiet"), "quiet");
  EXPECT_EQ(append_cmdline("console=ttyS0", ""), "console=ttyS0");
}

TEST(KernelCmdline, FirstDiskBecomesRootUnlessRootIsNamed) {
  VmConfig c = with_disk(false);
  add_root_default(c);
  EXPECT_EQ(c.cmdline, std::string(kDefaultCmdline) + " root=/dev/vda rw");
  add_root_default(c);  // idempotent
  EXPECT_EQ(c.cmdline, std::string(kDefaultCmdline) + " root=/dev/vda rw");

  VmConfig ro = with_disk(true);
  add_root_default(ro);
  EXPECT_TRUE(has_cmdline_word(ro.cmdline, "ro"));

  VmConfig named = with_disk(false);
  named.cmdline = "console=ttyS0 root=/dev/vdb";
  add_root_default(named);
  EXPECT_EQ(named.cmdline, "console=ttyS0 root=/dev/vdb");

  VmConfig diskless;
  add_root_default(diskless);
  EXPECT_EQ(diskless.cmdline, kDefaultCmdline);
}

}  // namespace
}  // namespace vmm
