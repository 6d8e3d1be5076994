// The in-memory newc cpio writer and the guest agent's initramfs fragment, checked against
// GNU cpio itself: what it lists and extracts is what was added.
#include "loader/cpio_archive.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "loader/agent_initramfs.hpp"
#include "vmm/common/error.hpp"

namespace vmm::loader {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The 8-hex-digit header field `index` (0 = c_ino) of the entry starting at `offset`.
uint32_t header_field(const std::vector<uint8_t>& a, size_t offset, size_t index) {
  const std::string hex(a.begin() + static_cast<std::ptrdiff_t>(offset + 6 + index * 8),
                        a.begin() + static_cast<std::ptrdiff_t>(offset + 6 + index * 8 + 8));
  return static_cast<uint32_t>(std::stoul(hex, nullptr, 16));
}

class CpioDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("vmm-cpio-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "out");
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::vector<uint8_t>& archive) {
    fs::path p = dir_ / "archive.cpio";
    std::ofstream(p, std::ios::binary)
        .write(reinterpret_cast<const char*>(archive.data()),
               static_cast<std::streamsize>(archive.size()));
    return p;
  }
  // Runs a shell command in the extraction directory; its stdout.
  std::string run(const std::string& command) {
    const fs::path out = dir_ / "stdout";
    const std::string line =
        "cd " + (dir_ / "out").string() + " && " + command + " >" + out.string() + " 2>&1";
    status_ = std::system(line.c_str());
    return slurp(out);
  }

  fs::path dir_;
  int status_ = -1;
};

TEST_F(CpioDir, ListsAndExtractsWithGnuCpio) {
  CpioArchive archive;
  archive.add_directory("vmm", 0755);
  archive.add_file("vmm/agent", bytes_of("hello"), 0755);  // 5 bytes: data padding needed
  archive.add_file("vmm/empty", {}, 0600);
  archive.add_directory("vmm/sub", 0700);
  archive.add_file("vmm/sub/abcd", bytes_of("1234"), 0644);  // name length 12 + NUL
  const std::vector<uint8_t> bytes = std::move(archive).finish();
  EXPECT_EQ(bytes.size() % 4, 0U);
  const fs::path file = write(bytes);

  EXPECT_EQ(run("cpio -it --quiet < " + file.string()),
            "vmm\nvmm/agent\nvmm/empty\nvmm/sub\nvmm/sub/abcd\n");
  ASSERT_EQ(status_, 0);
  run("cpio -idm --quiet --no-absolute-filenames < " + file.string());
  ASSERT_EQ(status_, 0);
  const fs::path out = dir_ / "out";
  EXPECT_EQ(slurp(out / "vmm/agent"), "hello");
  EXPECT_EQ(slurp(out / "vmm/sub/abcd"), "1234");
  EXPECT_EQ(fs::file_size(out / "vmm/empty"), 0U);
  struct stat st {};
  ASSERT_EQ(::stat((out / "vmm").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0755U);
  ASSERT_EQ(::stat((out / "vmm/agent").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0755U);
  ASSERT_EQ(::stat((out / "vmm/empty").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600U);
  ASSERT_EQ(::stat((out / "vmm/sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700U);
}

// newc: 110-byte header, name with its NUL padded so the data starts 4-aligned, data padded
// so the next header does; the archive ends with TRAILER!!!.
TEST(CpioArchive, HeaderNamePaddingAndTrailer) {
  CpioArchive archive;
  archive.add_file("ab", bytes_of("xyz"), 0640);
  const std::vector<uint8_t> a = std::move(archive).finish();
  ASSERT_GE(a.size(), 110U);
  EXPECT_EQ(std::string(a.begin(), a.begin() + 6), "070701");
  EXPECT_EQ(header_field(a, 0, 1), static_cast<uint32_t>(S_IFREG | 0640));
  EXPECT_EQ(header_field(a, 0, 2), 0U);   // uid
  EXPECT_EQ(header_field(a, 0, 3), 0U);   // gid
  EXPECT_EQ(header_field(a, 0, 6), 3U);   // filesize
  EXPECT_EQ(header_field(a, 0, 11), 3U);  // namesize with the NUL
  // Header 110 + "ab\0" = 113, padded to 116; data "xyz" 116..119, padded to 120.
  EXPECT_EQ(std::string(a.begin() + 110, a.begin() + 113), std::string("ab\0", 3));
  for (size_t i = 113; i < 116; ++i) EXPECT_EQ(a[i], 0) << i;
  EXPECT_EQ(std::string(a.begin() + 116, a.begin() + 119), "xyz");
  EXPECT_EQ(a[119], 0);
  EXPECT_EQ(std::string(a.begin() + 120, a.begin() + 126), "070701");
  EXPECT_EQ(header_field(a, 120, 11), 11U);  // "TRAILER!!!" and its NUL
  EXPECT_EQ(std::string(a.begin() + 230, a.begin() + 240), "TRAILER!!!");
  EXPECT_EQ(a.size(), 244U);  // 230 + 11 = 241, padded to 244
  EXPECT_NE(header_field(a, 0, 0), header_field(a, 120, 0)) << "inode numbers must differ";
}

TEST(CpioArchive, RefusesBadNamesAndModes) {
  CpioArchive archive;
  EXPECT_THROW(archive.add_directory("", 0755), Error);
  EXPECT_THROW(archive.add_directory("/vmm", 0755), Error);
  EXPECT_THROW(archive.add_file(std::string("a\0b", 3), {}, 0644), Error);
  EXPECT_THROW(archive.add_file("x", {}, 0100644), Error);  // type bits are the writer's
}

TEST_F(CpioDir, AgentInitramfsHoldsTheAgentExecutable) {
  const std::vector<uint8_t> agent = bytes_of("#!/bin/sh\necho agent\n");
  const fs::path file = write(agent_initramfs(agent));
  EXPECT_EQ(run("cpio -it --quiet < " + file.string()), "vmm\nvmm/vmm-agent\n");
  run("cpio -idm --quiet < " + file.string());
  ASSERT_EQ(status_, 0);
  const fs::path extracted = dir_ / "out" / std::string(kAgentInitramfsPath.substr(1));
  EXPECT_EQ(slurp(extracted), "#!/bin/sh\necho agent\n");
  struct stat st {};
  ASSERT_EQ(::stat(extracted.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755U);
  EXPECT_EQ(kAgentRdinit, "rdinit=" + std::string(kAgentInitramfsPath));
}

}  // namespace
}  // namespace vmm::loader
