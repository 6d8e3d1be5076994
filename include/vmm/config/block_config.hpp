#pragma once
// What `--disk` (or a config file's drives) asks for, as plain values. The device lives in
// vmm/virtio/block_device.hpp.
#include <string>

namespace vmm::virtio {

enum class DiskCache {
  kWriteback,  // host page cache; guest FLUSH -> fdatasync
  kNone,       // O_DIRECT where the host file system allows it
};

// Host I/O for a disk: kAuto probes io_uring and falls back to a thread pool.
enum class BlockIoEngineKind { kAuto, kIoUring, kThreadPool };

struct BlockDeviceConfig {
  std::string path;
  bool read_only = false;
  std::string serial;  // GET_ID; at most 20 bytes
  DiskCache cache = DiskCache::kWriteback;
  // Guest writes go to a throwaway overlay that vanishes with the process; the image is only
  // read (and shared, so several VMs can boot one image at once).
  bool snapshot = false;
  BlockIoEngineKind engine = BlockIoEngineKind::kAuto;
  friend bool operator==(const BlockDeviceConfig&, const BlockDeviceConfig&) = default;
};

}  // namespace vmm::virtio
