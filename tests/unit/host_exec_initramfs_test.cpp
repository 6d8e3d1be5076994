// The initramfs of `vmm run --exec`, unpacked by GNU cpio: the init, the modules and their
// load order, and the command and directory byte for byte whatever quoting they hold.
#include "loader/host_exec_initramfs.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "vmm/common/error.hpp"
#include "vmm/common/host_exec_layout.hpp"

namespace vmm::loader {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class HostExecInitramfs : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("vmm-exec-initramfs-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "out");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Unpacks `archive` into dir_/out with GNU cpio; its listing.
  std::string unpack(const std::vector<uint8_t>& archive) {
    const fs::path file = dir_ / "a.cpio";
    std::ofstream(file, std::ios::binary)
        .write(reinterpret_cast<const char*>(archive.data()),
               static_cast<std::streamsize>(archive.size()));
    const std::string cd = "cd " + (dir_ / "out").string() + " && ";
    const std::string list = (dir_ / "list").string();
    EXPECT_EQ(std::system((cd + "cpio -it --quiet < " + file.string() + " > " + list).c_str()), 0);
    EXPECT_EQ(std::system((cd + "cpio -idm --quiet < " + file.string()).c_str()), 0);
    return slurp(list);
  }
  fs::path out(std::string_view guest_path) const { return dir_ / "out" / guest_path.substr(1); }

  fs::path dir_;
};

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

TEST_F(HostExecInitramfs, HoldsInitModulesCommandAndDirectory) {
  const std::vector<GuestModule> modules = {{"virtio.ko", bytes_of("first")},
                                            {"9p.ko", bytes_of("second")}};
  const std::string command = "echo hello; cat /etc/hostname; exit 7";
  const auto archive = host_exec_initramfs(bytes_of("\x7f"
                                                    "ELF init"),
                                           modules, command, "/home/u");
  const std::string listing = unpack(archive);
  for (const char* entry :
       {"dev\n", "proc\n", "sys\n", "vmm/vmm-agent\n", "vmm/lower\n", "vmm/root\n", "vmm/rw\n"}) {
    EXPECT_NE(listing.find(entry), std::string::npos) << entry << " in\n" << listing;
  }
  EXPECT_EQ(slurp(out(host_exec::kInitPath)),
            "\x7f"
            "ELF init");
  struct stat st {};
  ASSERT_EQ(::stat(out(host_exec::kInitPath).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755U);
  EXPECT_EQ(slurp(out(host_exec::kModuleOrderFile)), "virtio.ko\n9p.ko\n");
  EXPECT_EQ(slurp(out(std::string(host_exec::kModulesDir) + "/virtio.ko")), "first");
  EXPECT_EQ(slurp(out(std::string(host_exec::kModulesDir) + "/9p.ko")), "second");
  EXPECT_EQ(slurp(out(host_exec::kCommandFile)), command);
  EXPECT_EQ(slurp(out(host_exec::kCwdFile)), "/home/u");
}

// The command is a file the init hands to /bin/sh -c as one argument: nothing is quoted or
// split on the way, so every byte a shell could see arrives as it was given.
TEST_F(HostExecInitramfs, CommandArrivesByteForByteWhateverItsQuoting) {
  const std::string command =
      "printf '%s\\n' \"a b\" 'c'\"'\"'d' $HOME `id -u` \\\n  \t; echo \xc3\xa9 > '/tmp/x y'\n";
  (void)unpack(host_exec_initramfs(bytes_of("i"), {}, command, "/dir with 'quote'"));
  EXPECT_EQ(slurp(out(host_exec::kCommandFile)), command);
  EXPECT_EQ(slurp(out(host_exec::kCwdFile)), "/dir with 'quote'");
  EXPECT_EQ(slurp(out(host_exec::kModuleOrderFile)), "");
}

// The unpacked command runs in a shell exactly as typed.
TEST_F(HostExecInitramfs, ShellSeesTheCommandAsTyped) {
  const std::string command = "printf '[%s]' \"a  b\" 'it'\"'\"'s'; exit 3";
  (void)unpack(host_exec_initramfs(bytes_of("i"), {}, command, "/"));
  const std::string run =
      "sh -c \"$(cat " + out(host_exec::kCommandFile).string() + ")\" > " + (dir_ / "ran").string();
  const int status = std::system(run.c_str());
  EXPECT_EQ(WEXITSTATUS(status), 3);
  EXPECT_EQ(slurp(dir_ / "ran"), "[a  b][it's]");
}

TEST(HostExecInitramfsErrors, NulBytesAreRefused) {
  EXPECT_THROW((void)host_exec_initramfs(bytes_of("i"), {}, std::string("a\0b", 3), "/"),
               ConfigError);
  EXPECT_THROW((void)host_exec_initramfs(bytes_of("i"), {}, "true", std::string("/\0", 2)), Error);
}

}  // namespace
}  // namespace vmm::loader
