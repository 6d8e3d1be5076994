// Entry point of vmm_kvm_tests: resolves the environment once and says loudly when the tests
// cannot run, because every test then fails (a missing /dev/kvm must never look like a pass).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "kvm_test_env.hpp"

namespace vmm::test {
namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

KvmTestEnv resolve() {
  KvmTestEnv env;
#ifdef VMM_DEFAULT_BIN
  env.vmm_bin = env_or("VMM_BIN", VMM_DEFAULT_BIN);
#else
  env.vmm_bin = env_or("VMM_BIN", "");
#endif
  env.kernel = env_or("VMM_TEST_KERNEL", "");
  env.initrd = env_or("VMM_TEST_INITRD", "");
  env.log_dir = env_or("VMM_KVM_LOG_DIR", "kvm-logs");
  env.cmdline_extra = env_or("VMM_TEST_CMDLINE_EXTRA", "");
  const std::string limit = env_or("VMM_KVM_TEST_LIMIT", "180");
  char* end = nullptr;
  const long seconds = std::strtol(limit.c_str(), &end, 10);
  if (end != nullptr && *end == '\0' && seconds > 0) env.test_limit = std::chrono::seconds{seconds};

  const int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  env.has_kvm = fd >= 0;
  if (fd >= 0) ::close(fd);

  if (env.vmm_bin.empty() || ::access(env.vmm_bin.c_str(), X_OK) != 0) {
    env.problem = "vmm binary not executable: '" + env.vmm_bin + "' (set VMM_BIN)";
  } else if (env.kernel.empty() || ::access(env.kernel.c_str(), R_OK) != 0) {
    env.problem = "guest kernel not readable: '" + env.kernel +
                  "' (set VMM_TEST_KERNEL; firmware/fetch-debian-kernel.sh fetches it)";
  } else if (env.initrd.empty() || ::access(env.initrd.c_str(), R_OK) != 0) {
    env.problem = "test initramfs not readable: '" + env.initrd +
                  "' (set VMM_TEST_INITRD; firmware/build-test-initramfs.sh builds it)";
  }
  return env;
}

// Appends each test's start and end to $VMM_KVM_LOG_DIR/timeline.tsv as they happen, so that
// when the sandbox's time runs out tests/kvm/run-suite.sh can still say which tests took it, and
// when the sandbox stops responding it can run the unfinished ones in a fresh sandbox (which
// appends to the same timeline; run-suite.sh removes it before the first).
class Timeline : public ::testing::EmptyTestEventListener {
 public:
  explicit Timeline(const std::string& path) : out_(path, std::ios::app) {}
  void OnTestStart(const ::testing::TestInfo& t) override { line("start", t, ""); }
  void OnTestEnd(const ::testing::TestInfo& t) override {
    const auto* r = t.result();
    line("end", t,
         std::to_string(r->elapsed_time()) + "\t" +
             (r->Skipped()  ? "skipped"
              : r->Failed() ? "failed"
                            : "passed"));
  }

 private:
  void line(const char* what, const ::testing::TestInfo& t, const std::string& rest) {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    out_ << what << '\t' << now << '\t' << t.test_suite_name() << '.' << t.name();
    if (!rest.empty()) out_ << '\t' << rest;
    out_ << std::endl;  // flushed: the sandbox may be killed at any moment
  }
  std::ofstream out_;
};

void add_timeline(const std::string& log_dir) {
  std::error_code ec;
  std::filesystem::create_directories(log_dir, ec);
  // gtest owns its listeners and deletes them.
  ::testing::UnitTest::GetInstance()->listeners().Append(
      new Timeline(log_dir + "/timeline.tsv"));  // NOLINT(cppcoreguidelines-owning-memory)
}

}  // namespace

const KvmTestEnv& KvmTestEnv::get() {
  static const KvmTestEnv env = resolve();
  return env;
}

}  // namespace vmm::test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const auto& env = vmm::test::KvmTestEnv::get();
  if (!env.has_kvm) {
    std::fprintf(stderr,
                 "\n********************************************************************\n"
                 "** SKIPPED: no /dev/kvm. Every KVM test FAILS on purpose.\n"
                 "** Run them through tests/sandbox/vmm-sandbox (ctest -L kvm does).\n"
                 "********************************************************************\n\n");
  } else if (!env.problem.empty()) {
    std::fprintf(stderr, "\n** KVM tests cannot run: %s\n\n", env.problem.c_str());
  } else {
    std::fprintf(stderr, "KVM tests: vmm=%s kernel=%s initrd=%s limit=%llds logs=%s\n",
                 env.vmm_bin.c_str(), env.kernel.c_str(), env.initrd.c_str(),
                 static_cast<long long>(env.test_limit.count()), env.log_dir.c_str());
  }
  vmm::test::add_timeline(env.log_dir);
  return RUN_ALL_TESTS();
}
