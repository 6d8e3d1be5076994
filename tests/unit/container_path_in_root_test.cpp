#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "container/path_in_root.hpp"
#include "vmm/common/error.hpp"

namespace vmm::container {
namespace {

namespace fs = std::filesystem;

class PathInRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "vmm-pir-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    base_ = tmpl;
    root_ = base_ / "root";
    outside_ = base_ / "outside";
    fs::create_directories(root_ / "etc");
    fs::create_directories(outside_);
    std::ofstream(outside_ / "secret") << "host";
    std::ofstream(root_ / "etc" / "secret") << "container";
    root_fd_.reset(::open(root_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(root_fd_.valid());
  }
  void TearDown() override { fs::remove_all(base_); }

  std::string real_path_of(const UniqueFd& fd) {
    std::array<char, PATH_MAX> buf{};
    const ssize_t n = ::readlink(fd_path(fd.get()).c_str(), buf.data(), buf.size() - 1);
    return n > 0 ? std::string(buf.data(), static_cast<size_t>(n)) : std::string();
  }

  fs::path base_, root_, outside_;
  UniqueFd root_fd_;
};

TEST(PathComponents, DropsEmptyAndDot) {
  EXPECT_EQ(path_components("/a//b/./c/"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(path_components("../x"), (std::vector<std::string>{"..", "x"}));
  EXPECT_TRUE(path_components("/").empty());
}

TEST_F(PathInRoot, AbsoluteSymlinkResolvesInsideTheRoot) {
  // /evil -> /  (absolute): must mean the container's root, never the host's.
  fs::create_symlink(outside_, root_ / "evil");
  bool missing = false;
  UniqueFd fd = open_in_root(root_fd_.get(), "/evil/secret", &missing);
  EXPECT_TRUE(missing) << "resolved to " << real_path_of(fd);
}

TEST_F(PathInRoot, DotDotSymlinkIsClampedAtTheRoot) {
  fs::create_symlink("../../../../../../etc", root_ / "up");
  UniqueFd fd = open_in_root(root_fd_.get(), "/up/secret");
  ASSERT_TRUE(fd.valid());
  EXPECT_EQ(real_path_of(fd), (root_ / "etc" / "secret").string());
  UniqueFd fd2 = open_in_root(root_fd_.get(), "/../../etc/secret");
  EXPECT_EQ(real_path_of(fd2), (root_ / "etc" / "secret").string());
}

TEST_F(PathInRoot, CreatesMissingDirectoriesInsideTheRoot) {
  fs::create_symlink("/srv", root_ / "mnt");
  fs::create_directories(root_ / "srv");
  UniqueFd fd = open_or_create_in_root(root_fd_.get(), "/mnt/data/deep", CreateKind::kDirectory);
  ASSERT_TRUE(fd.valid());
  EXPECT_EQ(real_path_of(fd), (root_ / "srv" / "data" / "deep").string());
}

TEST_F(PathInRoot, SymlinkOutOfTheRootIsRefusedNotFollowed) {
  // /mnt -> ../../<host dir>: the target does not exist inside the root, so the destination
  // cannot be created there; it must be refused, and nothing may appear on the host side.
  fs::create_symlink("/../../../" + outside_.string(), root_ / "mnt");
  EXPECT_THROW((void)open_or_create_in_root(root_fd_.get(), "/mnt/data", CreateKind::kDirectory),
               ConfigError);
  EXPECT_FALSE(fs::exists(outside_ / "data")) << "created outside the root";
}

TEST_F(PathInRoot, CreatesAFileTarget) {
  UniqueFd fd = open_or_create_in_root(root_fd_.get(), "/etc/resolv.conf", CreateKind::kFile);
  ASSERT_TRUE(fd.valid());
  EXPECT_TRUE(fs::is_regular_file(root_ / "etc" / "resolv.conf"));
}

TEST_F(PathInRoot, DanglingSymlinkDestinationIsRefused) {
  fs::create_symlink("/nowhere/at/all", root_ / "dangling");
  // The parent of the target does not exist either: creation follows into the root, so the
  // dangling link gets a real directory behind it inside the root, or is refused. Never outside.
  try {
    UniqueFd fd = open_or_create_in_root(root_fd_.get(), "/dangling", CreateKind::kDirectory);
    EXPECT_EQ(real_path_of(fd).rfind(root_.string(), 0), 0U);
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("dangling"), std::string::npos);
  }
  EXPECT_FALSE(fs::exists("/nowhere"));
}

TEST_F(PathInRoot, MagicLinksAreNotFollowed) {
  fs::create_symlink("/proc/self/root/etc", root_ / "magic");
  // The target is read inside the root, where there is no /proc: it must not reach the host.
  bool missing = false;
  UniqueFd fd = open_in_root(root_fd_.get(), "/magic/passwd", &missing);
  EXPECT_TRUE(missing);
  EXPECT_FALSE(fd.valid());
}

}  // namespace
}  // namespace vmm::container
