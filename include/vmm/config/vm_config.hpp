#pragma once
// Everything needed to build one VM, as plain values. The CLI (and later the API)
// fills it; the VM builder validates it against the host.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "vmm/config/block_config.hpp"
#include "vmm/config/net_config.hpp"
#include "vmm/config/share_config.hpp"
#include "vmm/config/vsock_config.hpp"

namespace vmm {

// The kernel command line when the user gives none. pci=noearly: no PCI scans before the PCI
// subsystem is up. Those are chipset quirks and, on CPUs that look like an AMD K8/family 10h-15h
// (as QEMU's emulated ones do), a search for an AGP bridge over all 256 buses, twice: 32,768
// port exits to the VMM, half of a stock kernel's boot in a nested setup. A VM has no chipset
// that needs them.
inline constexpr const char* kDefaultCmdline = "console=ttyS0 reboot=k panic=1 pci=noearly";
// xAPIC IDs are 8 bits and 0xff is the broadcast ID.
inline constexpr uint32_t kMaxCpus = 254;

// Where the guest's interactive console lives. The serial port always carries early boot output.
enum class ConsoleKind { kSerial, kVirtio };
// How virtio devices reach the guest: PCI (found by probing; stock kernels) or virtio-mmio
// (announced on the kernel command line; needs VIRTIO_MMIO_CMDLINE_DEVICES).
enum class TransportKind { kPci, kMmio };

// `vmm run --exec`: boot into the share tagged "root" (read-only, under a tmpfs overlay), run
// `command` with /bin/sh -c in `cwd`, and end with its exit status. vmm makes the whole
// initramfs; the command's stdout is hvc0, its stderr ttyS0.
struct HostExecConfig {
  std::string command;
  std::string cwd = "/";  // inside the guest's root
  friend bool operator==(const HostExecConfig&, const HostExecConfig&) = default;
};

struct VmConfig {
  std::filesystem::path kernel;
  std::optional<std::filesystem::path> initrd;
  std::string cmdline = kDefaultCmdline;
  uint32_t cpus = 1;
  uint64_t memory_bytes = 512ULL << 20;
  std::string kvm_device = "/dev/kvm";
  std::vector<virtio::BlockDeviceConfig> disks;  // vda, vdb, ...
  std::vector<virtio::NetConfig> nets;           // eth0, eth1, ...
  std::optional<VsockConfig> vsock;              // a virtio-vsock device, when set
  std::vector<ShareConfig> shares;               // virtio-9p host directories
  ConsoleKind console = ConsoleKind::kSerial;
  TransportKind transport = TransportKind::kPci;
  // The machine's SMBIOS UUID (canonical lowercase text); empty: a random one per VM.
  std::string uuid;
  // Put the guest agent into the guest: appended to the initrd (required) and started first
  // with rdinit=, it runs the initramfs's /init and serves the host over virtio-vsock.
  bool agent = false;
  std::optional<HostExecConfig> host_exec;
  friend bool operator==(const VmConfig&, const VmConfig&) = default;
};

}  // namespace vmm
