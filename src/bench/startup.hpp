#pragma once
// `vmm bench startup` and `vmm bench density`: the scenarios this machine can run, measured
// interleaved (run i of every scenario before run i+1 of any), into one report.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bench/scenario.hpp"

namespace vmm::bench {

// The guest workload: the test initramfs prints this first, then ends the VM through the
// debug-exit port (vmmbench=exit) or after a line on the console (vmmbench=wait).
inline constexpr const char* kVmReadyMarker = "VMMTEST: init started";
inline constexpr const char* kContainerReadyMarker = "VMMBENCH-READY";
// The value the workload writes to port 0xf4; vmm and QEMU's isa-debug-exit both exit with
// (16 << 1) | 1.
inline constexpr int kDebugExitValue = 16;
inline constexpr int kDebugExitStatus = 33;

struct BenchOptions {
  unsigned runs = 10;
  std::filesystem::path vmm;     // the vmm binary the scenarios run
  std::filesystem::path rootfs;  // empty: a busybox root made for the run
  std::filesystem::path kernel;  // the stock kernel (empty: not measured)
  std::filesystem::path initrd;
  std::filesystem::path minimal_kernel;
  unsigned cpus = 1;
  uint64_t memory_mib = 256;
  std::string baseline = "runc-run";
  std::vector<std::string> only;  // scenario names to run (empty: all)
  std::chrono::seconds timeout{300};
  // Called before each run: (runs done, runs in all, scenario).
  std::function<void(unsigned, unsigned, const std::string&)> progress;
};

// Where the firmware/ scripts keep guest assets: $VMM_CACHE_DIR, else ~/.cache/vmm (nullopt
// with neither variable set).
[[nodiscard]] std::optional<std::filesystem::path> guest_asset_cache();

// The defaults of the guest assets: $VMM_CACHE_DIR (or ~/.cache/vmm) kernel/bzImage,
// test-initramfs.cpio.gz and minimal-kernel/bzImage.
void default_guest_assets(BenchOptions& options);

// Why VMs cannot run here (no /dev/kvm, a paravirtual KVM, no access), or nullopt.
[[nodiscard]] std::optional<std::string> kvm_unavailable_reason();

[[nodiscard]] Report run_startup(const BenchOptions& options);

enum class DensityKind { kVm, kContainer, kBoth };
[[nodiscard]] Report run_density(const BenchOptions& options, unsigned count, DensityKind kind);

}  // namespace vmm::bench
