#pragma once
// What `--disk` (or a config file's drives) asks for, as plain values. The device lives in
// vmm/virtio/block_device.hpp.
#include <algorithm>
#include <cstdint>
#include <string>

namespace vmm::virtio {

enum class DiskCache {
  kWriteback,  // host page cache; guest FLUSH -> fdatasync
  kNone,       // O_DIRECT; a host file system that refuses it is an error
};

// Request queues a disk may offer (VIRTIO_BLK_F_MQ); each has its own host I/O engine.
inline constexpr unsigned kMaxBlockQueues = 16;

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
  // 1..kMaxBlockQueues request queues; more than one lets the guest's blk-mq submit from
  // several vCPUs without sharing a ring. 0: one per vCPU (block_queue_count()).
  unsigned queues = 0;
  friend bool operator==(const BlockDeviceConfig&, const BlockDeviceConfig&) = default;
};

// The request queues a disk gets on a VM with `vcpus` vCPUs: its `queues`, or for 0 one per
// vCPU (the most Linux's blk-mq uses), at most kMaxBlockQueues.
[[nodiscard]] inline unsigned block_queue_count(const BlockDeviceConfig& config,
                                                uint32_t vcpus) noexcept {
  if (config.queues != 0) return config.queues;
  return vcpus == 0 ? 1U : std::min<unsigned>(vcpus, kMaxBlockQueues);
}

}  // namespace vmm::virtio
