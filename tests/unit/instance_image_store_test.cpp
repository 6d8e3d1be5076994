// The image store on real files: imports from a directory and from tarballs (plain and LXD's
// unified one), content addressing, aliases, and input that is not a root file system.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "instance/child_process.hpp"
#include "instance/image_store.hpp"
#include "vmm/common/error.hpp"

namespace vmm::instance {
namespace {

namespace fs = std::filesystem;

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "vmm-image-store-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    tree_ = dir_ / "tree";
    fs::create_directories(tree_ / "etc");
    fs::create_directories(tree_ / "bin");
    std::ofstream(tree_ / "bin/sh") << "#!fake shell\n";
    std::ofstream(tree_ / "etc/os-release") << "ID=testos\nVERSION_ID=\"7\"\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path dir_;
  fs::path tree_;
};

TEST_F(ImageStoreTest, DirectoryImportIsContentAddressedAndAliased) {
  ImageStore store(dir_ / "images");
  const ImageInfo a = store.import(tree_, {"first"});
  EXPECT_EQ(a.fingerprint.size(), 64U);
  EXPECT_EQ(a.os, "testos");
  EXPECT_EQ(a.release, "7");
  EXPECT_TRUE(fs::exists(store.rootfs(a.fingerprint) / "bin/sh"));
  // The same content again: the same image, one more alias.
  const ImageInfo again = store.import(tree_, {"second"});
  EXPECT_EQ(again.fingerprint, a.fingerprint);
  EXPECT_EQ(store.list().size(), 1U);
  EXPECT_EQ(store.get("second").fingerprint, a.fingerprint);
  EXPECT_EQ(store.get(a.fingerprint.substr(0, 8)).fingerprint, a.fingerprint);
  // Different content: a different fingerprint.
  std::ofstream(tree_ / "etc/extra") << "x";
  const ImageInfo b = store.import(tree_, {});
  EXPECT_NE(b.fingerprint, a.fingerprint);
  EXPECT_EQ(store.list().size(), 2U);
  // An alias names one image.
  EXPECT_THROW(store.add_alias("first", b.fingerprint), StateError);
  EXPECT_THROW((void)store.get("nothing"), NotFoundError);
  store.remove("first");
  EXPECT_THROW((void)store.get("second"), NotFoundError);  // its aliases went with it
  EXPECT_EQ(store.list().size(), 1U);
}

TEST_F(ImageStoreTest, TarballsPlainAndUnified) {
  ImageStore store(dir_ / "images");
  const fs::path plain = dir_ / "plain.tar.gz";
  ASSERT_EQ(run_child({"tar", "-C", tree_.string(), "-czf", plain.string(), "."}), 0);
  const ImageInfo p = store.import(plain, {"plain"});
  EXPECT_TRUE(fs::exists(store.rootfs(p.fingerprint) / "etc/os-release"));

  const fs::path unified_dir = dir_ / "unified";
  fs::create_directories(unified_dir);
  fs::copy(tree_, unified_dir / "rootfs", fs::copy_options::recursive);
  std::ofstream(unified_dir / "metadata.yaml")
      << "architecture: x86_64\nproperties:\n  description: A unified one\n  os: alpine\n"
         "  release: \"3.5\"\n";
  const fs::path unified = dir_ / "unified.tar.xz";
  ASSERT_EQ(run_child({"tar", "-C", unified_dir.string(), "-cJf", unified.string(), "metadata.yaml",
                       "rootfs"}),
            0);
  const ImageInfo u = store.import(unified, {"alpine/3.5"});
  EXPECT_EQ(u.description, "A unified one");
  EXPECT_EQ(u.os, "alpine");
  EXPECT_EQ(u.release, "3.5");
  EXPECT_TRUE(fs::exists(store.rootfs(u.fingerprint) / "bin/sh"));
  EXPECT_FALSE(fs::exists(store.rootfs(u.fingerprint) / "metadata.yaml"));
}

TEST_F(ImageStoreTest, WhatIsNotARootFileSystemIsRefusedAndLeavesNothing) {
  ImageStore store(dir_ / "images");
  EXPECT_THROW(store.import(dir_ / "missing", {}), ConfigError);
  const fs::path empty = dir_ / "empty";
  fs::create_directories(empty / "data");
  EXPECT_THROW(store.import(empty, {}), ConfigError);
  const fs::path junk = dir_ / "junk.bin";
  std::ofstream(junk) << "not an archive at all";
  EXPECT_THROW(store.import(junk, {}), ConfigError);
  EXPECT_THROW(store.import(tree_, {"0123abcd"}), ConfigError);  // reads as a fingerprint
  EXPECT_TRUE(store.list().empty());
  size_t left = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir_ / "images")) ++left;
  EXPECT_EQ(left, 0U) << "a failed import left files in the store";
}

TEST_F(ImageStoreTest, ChildProcessStatusesAreShellLike) {
  EXPECT_EQ(run_child({"sh", "-c", "exit 3"}), 3);
  EXPECT_EQ(run_child({"sh", "-c", "kill -9 $$"}), 128 + 9);
  const CapturedRun run = run_captured({"sh", "-c", "echo out; echo err >&2"});
  EXPECT_EQ(run.output, "out\nerr\n");
  EXPECT_THROW(run_checked({"sh", "-c", "echo first; echo the reason >&2; exit 1"}, "doing it"),
               Error);
  try {
    run_checked({"sh", "-c", "echo the reason >&2; exit 1"}, "doing it");
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "doing it: the reason");
  }
  EXPECT_THROW(run_child({"/no/such/program"}), Error);
}

}  // namespace
}  // namespace vmm::instance
