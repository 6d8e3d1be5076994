#pragma once
// Virtual machine instances: `vmm run` boots the configured kernel (with its initramfs) on the
// instance's own ext4 root disk (<dir>/root.img, see vm_disk.hpp), with its per-VM API on
// <dir>/vm.sock. The process runs detached in a session of its own, its serial console appended
// to <dir>/console.log, so it outlives the daemon; <dir>/vm.pid names it (pid and start time)
// for the next daemon. Stop presses the ACPI power button through the API, freeze pauses the
// vCPUs. Exec and files go to the guest agent (vmm-agent) over virtio-vsock: the VM's vsock
// socket <dir>/vsock.sock takes Firecracker's CONNECT convention. No network yet (only "none"),
// no cgroup of its own.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "instance/agent_install.hpp"
#include "instance/container_backend.hpp"  // InstanceStatus, ExecOptions
#include "instance/instance_files.hpp"
#include "instance/instance_record.hpp"
#include "instance/vm_process.hpp"

namespace vmm::instance {

// What VM instances boot: the same kernel and initramfs for all of them.
struct VmBootConfig {
  std::filesystem::path kernel;  // empty: VM instances cannot be created or started
  std::filesystem::path initrd;  // optional; a stock kernel needs one to mount /dev/vda
  std::string cmdline_append;    // more kernel parameters after the default ones
};

// The kernel command line of every VM instance, before VmBootConfig::cmdline_append.
inline constexpr const char* kVmCmdline =
    "console=ttyS0 root=/dev/vda rw reboot=k panic=-1 quiet pci=noearly";

// How long a start waits for the guest agent by default: a systemd guest in a nested,
// emulated machine takes a minute to get there.
inline constexpr std::chrono::seconds kDefaultAgentWait{300};

// A VM's NIC on the managed bridge: a TAP that `vmm run` makes, brings up as a port of the
// bridge, and that goes away with it.
struct VmNic {
  std::string tap;
  std::string bridge;
  std::string mac;
};

class VmBackend final {
 public:
  VmBackend(std::filesystem::path vmm_exe, VmBootConfig boot);

  // vmm::ConfigError when no kernel is configured.
  void require_kernel() const;
  // The root disk from the image's tree (root.size, or the default for its size), with the
  // guest agent and its start hook when vmm-agent is found (agent::find_agent_binary()).
  // Returns the hook: kNone when the disk does not start the agent itself.
  static AgentHook prepare(const InstanceRecord& record, const std::filesystem::path& dir,
                           const std::filesystem::path& image_rootfs);
  // Starts `vmm run` detached and returns once its API answers (or it has failed: vmm::Error
  // with the last console line).
  void start(const InstanceRecord& record, const std::filesystem::path& dir,
             const std::optional<VmNic>& nic = std::nullopt) const;
  // The power button, then SIGKILL after `timeout` (at once when force). A stopped VM is left
  // as is; either way its pid file and socket go.
  void stop(const std::filesystem::path& dir, std::chrono::milliseconds timeout, bool force) const;
  void freeze(const std::filesystem::path& dir) const;
  void unfreeze(const std::filesystem::path& dir) const;
  [[nodiscard]] InstanceStatus status(const std::filesystem::path& dir) const;
  [[nodiscard]] pid_t pid(const std::filesystem::path& dir) const;  // 0 when stopped

  // The disk into <snapshot_dir>/root.img, the VM paused meanwhile when it runs.
  void snapshot(const std::filesystem::path& dir, const std::filesystem::path& snapshot_dir) const;
  // The snapshot's disk back as the instance's (the VM stopped).
  static void restore(const std::filesystem::path& dir, const std::filesystem::path& snapshot_dir);
  [[nodiscard]] static bool is_snapshot(const std::filesystem::path& snapshot_dir);

  // The VM's vsock socket, where the host reaches the guest agent.
  [[nodiscard]] static std::filesystem::path vsock_socket(const std::filesystem::path& dir);
  // Waits until the guest agent answers; vmm::Error naming `name` after `timeout`, or at once
  // when the VM stops meanwhile.
  void wait_agent(const std::string& name, const std::filesystem::path& dir,
                  std::chrono::milliseconds timeout) const;
  // A command through the guest agent; its exit status. vmm::StateError when the agent does
  // not answer.
  [[nodiscard]] int exec(const std::string& name, const std::filesystem::path& dir,
                         const ExecOptions& options) const;
  // Files in the running guest, through its agent.
  [[nodiscard]] FileEntry read_file(const std::string& name, const std::filesystem::path& dir,
                                    const std::string& path) const;
  void write_file(const std::string& name, const std::filesystem::path& dir,
                  const std::string& path, const FileWrite& write) const;
  void delete_file(const std::string& name, const std::filesystem::path& dir,
                   const std::string& path) const;

 private:
  [[nodiscard]] std::optional<ProcessIdentity> running(const std::filesystem::path& dir) const;
  // Whether the API answers `info` (the VM exists).
  [[nodiscard]] bool vm_answers(const std::filesystem::path& dir) const;
  // `vmm ctl COMMAND` against the VM's API; vmm::Error with its answer when it fails.
  void control(const std::filesystem::path& dir, const std::string& command) const;

  std::filesystem::path vmm_exe_;
  VmBootConfig boot_;
};

}  // namespace vmm::instance
