#pragma once
// What the manager keeps of an instance between daemon runs: <dir>/instance.json.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace vmm::instance {

enum class InstanceType { kContainer, kVirtualMachine };
[[nodiscard]] const char* type_name(InstanceType type);  // "container", "virtual-machine"
// "container" or "virtual-machine" (LXD's words); vmm::ConfigError otherwise.
[[nodiscard]] InstanceType parse_type(const std::string& text);

struct InstanceRecord {
  std::string name;
  InstanceType type = InstanceType::kContainer;
  std::string image;                          // fingerprint
  std::map<std::string, std::string> config;  // limits.cpu, limits.memory, boot.autostart, ...
  std::string created_at;
  // Whether the user last asked for it to run: a daemon restart keeps running what should run.
  bool running_wanted = false;
  // True until the launch finished: a record left "creating" by a killed daemon is removed.
  bool creating = true;
  // "bridge" (eth0 on the manager's bridge) or "none" (loopback only).
  std::string network = "none";
  std::string mac;   // eth0's, stable for the instance's life
  std::string ipv4;  // eth0's address on the bridge
  // A virtual machine's vsock context ID (3 and up, one per instance on this host), and how its
  // guest agent starts: "systemd", "openrc", "inittab" (the image's init starts it) or
  // "initramfs" (vmm puts it into the initramfs at every boot).
  uint32_t vsock_cid = 0;
  std::string agent_hook;
};

void save_record(const std::filesystem::path& file, const InstanceRecord& record);
// vmm::Error when unreadable or damaged.
[[nodiscard]] InstanceRecord load_record(const std::filesystem::path& file);

// The smallest root disk a virtual machine instance may ask for.
inline constexpr uint64_t kMinRootDiskSize = uint64_t{128} << 20;

// The configuration keys an instance accepts, and their values checked: limits.cpu (a count
// of CPUs, 1-256), limits.memory (a size: 512MiB, 1GiB, 268435456), root.size (a virtual
// machine's root disk, at least 128MiB; read when it is created), boot.autostart (true or
// false). vmm::ConfigError names the key.
void validate_config(const std::map<std::string, std::string>& config);
// limits.memory in bytes (0 when unset).
[[nodiscard]] uint64_t memory_limit(const std::map<std::string, std::string>& config);
// root.size in bytes (0 when unset).
[[nodiscard]] uint64_t root_disk_size(const std::map<std::string, std::string>& config);

}  // namespace vmm::instance
