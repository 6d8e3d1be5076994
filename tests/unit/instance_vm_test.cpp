// VM instances' pure parts: root disk sizes, root.size, the pid file and /proc/PID/stat.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "instance/instance_record.hpp"
#include "instance/vm_disk.hpp"
#include "instance/vm_process.hpp"
#include "vmm/common/error.hpp"

namespace vmm::instance {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t kMiB = uint64_t{1} << 20;

TEST(VmRootDisk, DefaultSizeIsTwiceTheTreeAndHeadroomAtLeast512MiB) {
  EXPECT_EQ(default_root_disk_size(0), 512 * kMiB);
  EXPECT_EQ(default_root_disk_size(100 * kMiB), 512 * kMiB);
  EXPECT_EQ(default_root_disk_size(200 * kMiB), 656 * kMiB);
  // Rounded up to a whole MiB.
  EXPECT_EQ(default_root_disk_size(200 * kMiB + 1), 657 * kMiB);
}

TEST(VmRootDisk, RootSizeIsASizeOfAtLeast128MiB) {
  EXPECT_NO_THROW(validate_config({{"root.size", "2GiB"}}));
  EXPECT_EQ(root_disk_size({{"root.size", "1GiB"}}), 1024 * kMiB);
  EXPECT_EQ(root_disk_size({{"root.size", "128MiB"}}), 128 * kMiB);
  EXPECT_EQ(root_disk_size({}), 0U);
  for (const char* bad : {"64MiB", "big", "1TB2", "0", "-1GiB"}) {
    try {
      validate_config({{"root.size", bad}});
      ADD_FAILURE() << bad << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.field(), "root.size") << bad;
    }
  }
}

TEST(VmRootDisk, MadeSparseFromATree) {
  const fs::path dir = fs::temp_directory_path() / ("vmm-vm-disk-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "tree/etc");
  std::ofstream(dir / "tree/etc/hostname") << "vm1\n";
  fs::create_symlink("etc/hostname", dir / "tree/name");
  EXPECT_EQ(tree_bytes(dir / "tree"), 4U + std::string("etc/hostname").size());
  make_root_disk(dir / "tree", dir / "root.img", 128 * kMiB);
  EXPECT_EQ(fs::file_size(dir / "root.img"), 128 * kMiB);
  struct stat st {};
  ASSERT_EQ(::stat((dir / "root.img").c_str(), &st), 0);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, 64 * kMiB) << "the disk is not sparse";
  copy_disk(dir / "root.img", dir / "copy.img");
  EXPECT_EQ(fs::file_size(dir / "copy.img"), 128 * kMiB);
  // Too small a disk for the tree: mkfs's reason, and no disk left.
  std::ofstream(dir / "tree/big", std::ios::binary) << std::string(2 * kMiB, 'x');
  EXPECT_THROW(make_root_disk(dir / "tree", dir / "small.img", kMiB), Error);
  EXPECT_FALSE(fs::exists(dir / "small.img"));
  fs::remove_all(dir);
}

TEST(VmProcess, StatFieldsAfterTheCommandName) {
  // The command name may hold spaces and parentheses.
  const std::string stat =
      "4242 (vmm (run) x) S 1 4242 4242 0 -1 4194560 1 0 0 0 3 4 0 0 20 0 3 0 987654 1000 5 "
      "18446744073709551615\n";
  const auto parsed = parse_proc_stat(stat);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->state, 'S');
  EXPECT_EQ(parsed->start_time, 987654U);
  EXPECT_FALSE(parse_proc_stat("4242 (vmm) S 1 2 3").has_value());
  EXPECT_FALSE(parse_proc_stat("no parentheses").has_value());
  EXPECT_FALSE(
      parse_proc_stat("1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 notanumber 1").has_value());
}

TEST(VmProcess, PidFileRoundTrip) {
  const ProcessIdentity identity{.pid = 1234, .start_time = 5678};
  EXPECT_EQ(pid_file_text(identity), "1234 5678\n");
  EXPECT_EQ(parse_pid_file(pid_file_text(identity)), identity);
  for (const char* bad : {"", "1234", "x 5", "0 5", "-3 5", "12 34 56", "12 3x"}) {
    EXPECT_FALSE(parse_pid_file(bad).has_value()) << bad;
  }
}

TEST(VmProcess, AliveOnlyWithTheSameStartTime) {
  const auto self = identify_process(::getpid());
  ASSERT_TRUE(self.has_value());
  EXPECT_TRUE(process_alive(*self));
  EXPECT_FALSE(process_alive({.pid = self->pid, .start_time = self->start_time + 1}));
  // An exited child, even unreaped (a zombie), is not alive.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  const auto identity = identify_process(child);
  ::usleep(100'000);
  if (identity) {
    EXPECT_FALSE(process_alive(*identity));
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_FALSE(identify_process(child).has_value());
}

}  // namespace
}  // namespace vmm::instance
