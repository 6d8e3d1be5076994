// The command line as a user meets it: every user error gives one clear line on stderr and
// exit status 2, before anything is started. Runs the real binary; needs no KVM.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

namespace fs = std::filesystem;

struct Result {
  int status = -1;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("vmm-cli-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Result vmm(const std::string& args) {
    const fs::path out = dir_ / "stdout";
    const fs::path err = dir_ / "stderr";
    const std::string cmd =
        std::string(VMM_BIN) + " " + args + " </dev/null >" + out.string() + " 2>" + err.string();
    const int raw = std::system(cmd.c_str());
    Result r;
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
  }

  fs::path write_file(const std::string& name, const std::string& contents) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << contents;
    return p;
  }

  static std::string kernel() {
    const char* k = std::getenv("VMM_TEST_KERNEL");
    return k != nullptr ? k : "";
  }

  fs::path dir_;
};

// One line, naming the problem, and exit status 2.
void expect_usage_error(const Result& r, const std::string& needle) {
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr: " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "stderr: " << r.err;
  EXPECT_TRUE(r.out.empty()) << "stdout must stay clean: " << r.out;
}

TEST_F(Cli, VersionAndHelp) {
  auto v = vmm("--version");
  EXPECT_EQ(v.status, 0);
  EXPECT_NE(v.out.find("vmm "), std::string::npos);
  auto h = vmm("run --help");
  EXPECT_EQ(h.status, 0);
  for (const char* s : {"--kernel", "--initrd", "--cmdline", "--cpus", "--memory", "--timeout",
                        "Exit status", "124", "0xf4", "Ctrl-a x"}) {
    EXPECT_NE(h.out.find(s), std::string::npos) << s;
  }
}

TEST_F(Cli, NoSubcommandOrUnknownFlag) {
  EXPECT_EQ(vmm("").status, 2);
  expect_usage_error(vmm("run --kernel x --bogus"), "--bogus");
  expect_usage_error(vmm("run"), "--kernel");
}

TEST_F(Cli, MissingKernel) {
  expect_usage_error(vmm("run --kernel " + (dir_ / "nope").string()), "nope");
}

TEST_F(Cli, NeitherBzImageNorElf) {
  auto junk = write_file("junk", std::string(8192, 'x'));
  expect_usage_error(vmm("run --kernel " + junk.string()), "junk");
}

TEST_F(Cli, TruncatedBzImage) {
  ASSERT_FALSE(kernel().empty()) << "VMM_TEST_KERNEL is not set: cannot run this test";
  auto full = slurp(kernel());
  ASSERT_GT(full.size(), 1u << 20);
  auto cut = write_file("cut", full.substr(0, full.size() / 2));
  auto r = vmm("run --kernel " + cut.string());
  expect_usage_error(r, "truncated");
}

TEST_F(Cli, BadCpusAndMemory) {
  expect_usage_error(vmm("run --kernel k --cpus 0"), "--cpus");
  expect_usage_error(vmm("run --kernel k --cpus 100000"), "--cpus");
  expect_usage_error(vmm("run --kernel k --memory 1M"), "too small");
  expect_usage_error(vmm("run --kernel k --memory 64T"), "more than the host");
  expect_usage_error(vmm("run --kernel k --memory lots"), "--memory");
  expect_usage_error(vmm("run --kernel k --timeout -3"), "--timeout");
}

TEST_F(Cli, InitrdThatDoesNotFit) {
  ASSERT_FALSE(kernel().empty()) << "VMM_TEST_KERNEL is not set: cannot run this test";
  auto big = dir_ / "big.cpio";
  fs::resize_file(write_file("big.cpio", ""), 200ULL << 20);
  auto r = vmm("run --kernel " + kernel() + " --memory 128M --initrd " + big.string());
  expect_usage_error(r, "initrd");
}

TEST_F(Cli, CommandLineTooLong) {
  ASSERT_FALSE(kernel().empty()) << "VMM_TEST_KERNEL is not set: cannot run this test";
  auto r = vmm("run --kernel " + kernel() + " --cmdline " + std::string(5000, 'a'));
  expect_usage_error(r, "command line");
}

TEST_F(Cli, MissingKvmDeviceIsExplained) {
  ASSERT_FALSE(kernel().empty()) << "VMM_TEST_KERNEL is not set: cannot run this test";
  auto r = vmm("run --kernel " + kernel() + " --kvm-device " + (dir_ / "kvm").string());
  expect_usage_error(r, "does not exist");
}

}  // namespace
