#pragma once
// What the KVM tests need from their surroundings, resolved once at start-up: the vmm binary,
// the guest kernel and initramfs, /dev/kvm, the per-test time limit and where boot logs go.
#include <chrono>
#include <string>

namespace vmm::test {

struct KvmTestEnv {
  std::string vmm_bin;                   // VMM_BIN, default the build's vmm (VMM_DEFAULT_BIN)
  std::string kernel;                    // VMM_TEST_KERNEL
  std::string initrd;                    // VMM_TEST_INITRD
  std::string log_dir;                   // VMM_KVM_LOG_DIR, default ./kvm-logs
  std::string cmdline_extra;             // VMM_TEST_CMDLINE_EXTRA: more guest kernel parameters
  std::chrono::seconds test_limit{180};  // VMM_KVM_TEST_LIMIT (seconds)
  bool has_kvm{false};
  std::string problem;  // non-empty: why no test can run (missing binary, kernel, ...)

  static const KvmTestEnv& get();
};

}  // namespace vmm::test
