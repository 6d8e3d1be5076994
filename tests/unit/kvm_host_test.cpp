// A host whose only KVM is the paravirtual kvm_pvm is named at start, with the way out.
#include <gtest/gtest.h>

#include <filesystem>

#include "vmm/kvm/kvm.hpp"

namespace vmm::kvm {
namespace {

namespace fs = std::filesystem;

class KvmHostModules : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("vmm-modules-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void load(const char* module) { fs::create_directories(dir_ / module); }
  fs::path dir_;
};

TEST_F(KvmHostModules, PvmAloneIsNamedWithTheWayOut) {
  load("kvm");
  load("kvm_pvm");
  const auto reason = unsupported_kvm_reason(dir_);
  ASSERT_TRUE(reason.has_value());
  EXPECT_NE(reason->find("kvm_pvm"), std::string::npos);
  EXPECT_NE(reason->find("kvm_intel or kvm_amd"), std::string::npos);
  EXPECT_NE(reason->find("sandbox"), std::string::npos);
}

TEST_F(KvmHostModules, HardwareKvmIsFineWithOrWithoutPvm) {
  load("kvm");
  load("kvm_amd");
  EXPECT_FALSE(unsupported_kvm_reason(dir_).has_value());
  load("kvm_pvm");
  EXPECT_FALSE(unsupported_kvm_reason(dir_).has_value());
  fs::remove_all(dir_ / "kvm_amd");
  load("kvm_intel");
  EXPECT_FALSE(unsupported_kvm_reason(dir_).has_value());
}

TEST_F(KvmHostModules, NoKvmModuleAtAllIsNotThisProblem) {
  EXPECT_FALSE(unsupported_kvm_reason(dir_).has_value());
}

}  // namespace
}  // namespace vmm::kvm
