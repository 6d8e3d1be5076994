#pragma once
// `vmm bench net` and `vmm bench blk`: the guest's network and disk throughput under vmm and
// under QEMU with the matching configuration, same kernel, root file system and host side (TAP,
// disk file), measured by the guest's own tools (iperf3, blkbench) and read from its console.
// Runs are interleaved: run i of every scenario before run i+1 of any.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "bench/scenario.hpp"

namespace vmm::bench {

struct IoBenchOptions {
  unsigned runs = 3;
  std::filesystem::path vmm;      // the vmm binary the scenarios run
  std::filesystem::path kernel;   // the stock kernel
  std::filesystem::path initrd;   // an initramfs that mounts /dev/vda and runs its init
  std::filesystem::path rootfs;   // an ext4 image with the guest tools (copied for each run)
  unsigned seconds = 10;          // of each measurement in the guest
  std::vector<std::string> only;  // scenario names to run (empty: all)
  // Seconds one run may take; 0: enough for the boot and every measurement.
  unsigned timeout = 0;
  // Block: request queues of the data disk (and vCPUs), its cache mode and size.
  unsigned queues = 1;
  std::string cache = "writeback";
  uint64_t disk_mib = 256;
  // Called before each run: (runs done, runs in all, scenario).
  std::function<void(unsigned, unsigned, const std::string&)> progress;
};

// The defaults of the guest assets: $VMM_CACHE_DIR (or ~/.cache/vmm) kernel/bzImage,
// rootfs-initramfs.cpio.gz and test-rootfs.ext4.
void default_io_guest_assets(IoBenchOptions& options);

// TCP throughput over a TAP (iperf3, guest to host and host to guest): "vmm-net" (vmm's
// user-space virtio-net) beside "qemu-net" (virtio-net-pci), "vmm-net-vhost" beside
// "qemu-net-vhost" (both vhost=on), and "vmm-net-jail" (`vmm run --jail`) beside "vmm-net".
[[nodiscard]] Report run_net(const IoBenchOptions& options);

// A data disk: sequential 1 MiB write and read (MB/s), 4 KiB random read at depth 1 and 32
// (IOPS): "vmm-blk" beside "qemu-blk" (virtio-blk-pci), the same queue count and cache mode.
[[nodiscard]] Report run_blk(const IoBenchOptions& options);

}  // namespace vmm::bench
