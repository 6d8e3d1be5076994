// Files in an instance's root: reads, writes and deletes stay inside it whatever its symlinks
// say, and keep owners and modes.
#include "instance/instance_files.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "vmm/common/error.hpp"

namespace vmm::instance {
namespace {

namespace fs = std::filesystem;

class InstanceFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = fs::temp_directory_path() / ("instance-files-" + std::to_string(::getpid()));
    fs::remove_all(base_);
    root_ = base_ / "root";
    fs::create_directories(root_ / "etc");
    std::ofstream(root_ / "etc/hostname") << "inside\n";
    std::ofstream(base_ / "outside") << "host\n";
  }
  void TearDown() override { fs::remove_all(base_); }

  static std::string text_of(const fs::path& file) {
    std::ifstream in(file);
    return {std::istreambuf_iterator<char>(in), {}};
  }

  fs::path base_;
  fs::path root_;
};

TEST_F(InstanceFilesTest, ReadsAFileWithItsOwnerAndMode) {
  fs::permissions(root_ / "etc/hostname", fs::perms(0640));
  const FileEntry entry = read_instance_file(root_, "/etc/hostname");
  EXPECT_EQ(entry.type, FileType::kFile);
  EXPECT_EQ(entry.content, "inside\n");
  EXPECT_EQ(entry.mode, 0640U);
  EXPECT_EQ(entry.uid, ::geteuid());
}

TEST_F(InstanceFilesTest, ListsADirectory) {
  std::ofstream(root_ / "etc/hosts") << "";
  const FileEntry entry = read_instance_file(root_, "/etc");
  EXPECT_EQ(entry.type, FileType::kDirectory);
  EXPECT_EQ(entry.entries, (std::vector<std::string>{"hostname", "hosts"}));
}

TEST_F(InstanceFilesTest, SymlinksResolveInsideTheRoot) {
  fs::create_symlink("../../../../../../etc/hostname", root_ / "up");
  fs::create_symlink(base_ / "outside", root_ / "absolute");
  EXPECT_EQ(read_instance_file(root_, "/up").content, "inside\n");
  // An absolute link names a path of the instance: not the host's file.
  EXPECT_THROW((void)read_instance_file(root_, "/absolute"), NotFoundError);
  // Writing through it is refused (it leads nowhere in the instance); the host's file stays.
  FileWrite write;
  write.content = "pushed\n";
  EXPECT_THROW(write_instance_file(root_, "/absolute", write), StateError);
  EXPECT_EQ(text_of(base_ / "outside"), "host\n");
  // Through a link that resolves inside, the instance's file is written.
  write_instance_file(root_, "/up", write);
  EXPECT_EQ(text_of(root_ / "etc/hostname"), "pushed\n");
}

TEST_F(InstanceFilesTest, WritesCreateParentsAndSetOwnerAndMode) {
  FileWrite write;
  write.content = std::string("\0binary\xff", 8);
  write.mode = 0600;
  write.uid = 1234;
  write.gid = 4321;
  write_instance_file(root_, "/new/dir/file", write);
  struct stat st {};
  ASSERT_EQ(::stat((root_ / "new/dir/file").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600U);
  if (::geteuid() == 0) {
    EXPECT_EQ(st.st_uid, 1234U);
    EXPECT_EQ(st.st_gid, 4321U);
  }
  EXPECT_EQ(read_instance_file(root_, "/new/dir/file").content, write.content);
  FileWrite more;
  more.content = "+";
  more.append = true;
  write_instance_file(root_, "/new/dir/file", more);
  EXPECT_EQ(read_instance_file(root_, "/new/dir/file").content, write.content + "+");
  // An existing file keeps its mode when none is given.
  EXPECT_EQ(read_instance_file(root_, "/new/dir/file").mode, 0600U);
}

TEST_F(InstanceFilesTest, MakesDirectoriesAndRefusesTypeChanges) {
  FileWrite dir;
  dir.type = FileType::kDirectory;
  write_instance_file(root_, "/srv/data", dir);
  EXPECT_TRUE(fs::is_directory(root_ / "srv/data"));
  FileWrite file;
  EXPECT_THROW(write_instance_file(root_, "/srv/data", file), StateError);
  EXPECT_THROW(write_instance_file(root_, "/etc/hostname", dir), StateError);
}

TEST_F(InstanceFilesTest, DeletesFilesAndEmptyDirectoriesOnly) {
  fs::create_directories(root_ / "full/sub");
  EXPECT_THROW(delete_instance_file(root_, "/full"), StateError);
  delete_instance_file(root_, "/full/sub");
  delete_instance_file(root_, "/etc/hostname");
  EXPECT_FALSE(fs::exists(root_ / "etc/hostname"));
  EXPECT_THROW(delete_instance_file(root_, "/etc/hostname"), NotFoundError);
  // A link is deleted itself, never what it points at.
  fs::create_symlink(base_ / "outside", root_ / "link");
  delete_instance_file(root_, "/link");
  EXPECT_TRUE(fs::exists(base_ / "outside"));
}

TEST_F(InstanceFilesTest, RejectsBadPaths) {
  EXPECT_THROW((void)read_instance_file(root_, "etc/hostname"), ConfigError);
  EXPECT_THROW((void)read_instance_file(root_, ""), ConfigError);
  EXPECT_THROW((void)read_instance_file(root_, "/"), ConfigError);
  EXPECT_THROW((void)read_instance_file(root_, "/nosuch"), NotFoundError);
  EXPECT_THROW(delete_instance_file(root_, "/etc/.."), ConfigError);
  FileWrite bad_mode;
  bad_mode.mode = 010000;
  EXPECT_THROW(write_instance_file(root_, "/x", bad_mode), ConfigError);
  EXPECT_THROW((void)parse_file_type("symlink"), ConfigError);
}

}  // namespace
}  // namespace vmm::instance
