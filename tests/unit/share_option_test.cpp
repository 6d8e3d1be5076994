#include "cli/share_option.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "vmm/common/error.hpp"

namespace vmm::cli {
namespace {

namespace fs = std::filesystem;

class ShareOption : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "vmm-share-opt-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    std::ofstream(dir_ / "file") << "x";
  }
  void TearDown() override { fs::remove_all(dir_); }

  void expect_error(const std::string& spec, const std::string& fragment) {
    try {
      (void)parse_share_option(spec);
      ADD_FAILURE() << spec << " was accepted";
    } catch (const ConfigError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(fragment), std::string::npos) << spec << " -> " << what;
      EXPECT_EQ(what.rfind("--share: ", 0), 0U) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  }

  fs::path dir_;
};

TEST_F(ShareOption, PathTagAndReadonly) {
  const ShareConfig a = parse_share_option(dir_.string() + ",tag=hostdir");
  EXPECT_EQ(a.path, dir_);
  EXPECT_EQ(a.tag, "hostdir");
  EXPECT_FALSE(a.read_only);
  const ShareConfig b = parse_share_option(dir_.string() + ",readonly=on,tag=ro_share");
  EXPECT_TRUE(b.read_only);
  EXPECT_EQ(b.tag, "ro_share");
  EXPECT_FALSE(parse_share_option(dir_.string() + ",tag=t,readonly=off").read_only);
}

TEST_F(ShareOption, Errors) {
  expect_error("", "missing directory");
  expect_error(dir_.string(), "tag=NAME is required");
  expect_error(dir_.string() + ",tag=", "the tag is empty");
  expect_error(dir_.string() + ",tag=" + std::string(65, 'a'), "longer than 64 characters");
  expect_error(dir_.string() + ",tag=a b", "printable");
  expect_error(dir_.string() + ",tag=a,tag=b", "given twice");
  expect_error((dir_ / "missing").string() + ",tag=t", "no such directory");
  expect_error((dir_ / "file").string() + ",tag=t", "not a directory");
  expect_error(dir_.string() + ",tag=t,readonly=maybe", "is not on or off");
  expect_error(dir_.string() + ",tag=t,cache=none", "unknown option 'cache'");
  expect_error(dir_.string() + ",tag", "is not KEY=VALUE");
}

TEST_F(ShareOption, LongestTagIsAccepted) {
  EXPECT_EQ(parse_share_option(dir_.string() + ",tag=" + std::string(64, 'z')).tag.size(), 64U);
}

}  // namespace
}  // namespace vmm::cli
