#pragma once
// The OCI runtime configuration (config.json, runtime spec 1.0 to 1.2) as typed values.
// parse_config() checks every field's type and range and throws vmm::ConfigError naming the
// offending field, so nothing downstream has to re-validate untrusted JSON.
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vmm::container {

struct IdMapping {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t size = 0;
};

struct Rlimit {
  int resource = 0;  // RLIMIT_*
  uint64_t soft = 0;
  uint64_t hard = 0;
};

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
  std::optional<uint32_t> umask;
};

// Capability numbers (CAP_*), each set applied as the config gives it (as runc does). Clients
// leave inheritable empty (a non-empty one lets file capabilities escalate, CVE-2022-29162);
// ambient capabilities are how a non-root process keeps capabilities across exec.
struct Capabilities {
  std::vector<int> bounding;
  std::vector<int> effective;
  std::vector<int> permitted;
  std::vector<int> inheritable;
  std::vector<int> ambient;
};

struct Process {
  bool terminal = false;
  uint16_t console_height = 0;
  uint16_t console_width = 0;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  User user;
  Capabilities capabilities;
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::optional<int> oom_score_adj;
};

struct Mount {
  std::string destination;
  std::string type;
  std::string source;
  std::vector<std::string> options;
};

struct Hook {
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int> timeout_s;
};

struct Hooks {
  std::vector<Hook> prestart;
  std::vector<Hook> create_runtime;
  std::vector<Hook> create_container;
  std::vector<Hook> start_container;
  std::vector<Hook> poststart;
  std::vector<Hook> poststop;
};

struct Namespace {
  int type = 0;      // CLONE_NEW*
  std::string path;  // empty: create a new one; otherwise join this one
};

struct DeviceRule {
  bool allow = false;
  char type = 'a';  // 'a', 'b' or 'c'
  std::optional<int64_t> major;
  std::optional<int64_t> minor;
  std::string access = "rwm";
};

struct Device {
  std::string path;
  char type = 'c';  // 'c', 'b', 'u' or 'p'
  int64_t major = 0;
  int64_t minor = 0;
  std::optional<uint32_t> file_mode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
};

struct Resources {
  std::optional<int64_t> memory_limit;  // bytes
  std::optional<int64_t> memory_swap;   // memory + swap, bytes; -1 unlimited
  std::optional<int64_t> memory_reservation;
  std::optional<uint64_t> cpu_shares;
  std::optional<int64_t> cpu_quota;  // microseconds per period; -1 unlimited
  std::optional<uint64_t> cpu_period;
  std::optional<int64_t> pids_limit;  // <= 0: unlimited
  std::vector<DeviceRule> devices;
  std::optional<uint64_t> memory_swappiness;  // 0..100, v1 only
  std::optional<bool> disable_oom_killer;     // v1 only
  std::optional<std::string> cpuset_cpus;     // "0-1,3"
  std::optional<std::string> cpuset_mems;
  std::optional<uint16_t> blkio_weight;  // 10..1000
  struct BlkioThrottle {
    int64_t major = 0;
    int64_t minor = 0;
    uint64_t rate = 0;
  };
  std::vector<BlkioThrottle> read_bps, write_bps, read_iops, write_iops;
  struct HugepageLimit {
    std::string page_size;  // "2MB", "1GB"
    uint64_t limit = 0;     // bytes
  };
  std::vector<HugepageLimit> hugepage_limits;
  std::optional<uint32_t> net_class_id;                          // v1 net_cls
  std::vector<std::pair<std::string, uint32_t>> net_priorities;  // v1 net_prio: interface, priority
};

// A LinuxResources object on its own (`update --resources`). Throws vmm::ConfigError.
[[nodiscard]] Resources parse_resources_json(std::string_view json_text);

struct SeccompArg {
  unsigned index = 0;
  uint64_t value = 0;
  uint64_t value_two = 0;
  std::string op;  // SCMP_CMP_*
  bool operator==(const SeccompArg&) const = default;
};

struct SeccompRule {
  std::vector<std::string> names;
  std::string action;
  std::optional<uint32_t> errno_ret;
  std::vector<SeccompArg> args;
  bool operator==(const SeccompRule&) const = default;
};

struct Seccomp {
  std::string default_action;
  std::optional<uint32_t> default_errno_ret;
  std::vector<std::string> architectures;
  std::vector<SeccompRule> syscalls;
  bool operator==(const Seccomp&) const = default;
};

struct LinuxConfig {
  std::vector<Namespace> namespaces;
  std::vector<IdMapping> uid_mappings;
  std::vector<IdMapping> gid_mappings;
  Resources resources;
  std::string cgroups_path;
  std::vector<Device> devices;
  std::vector<std::string> masked_paths;
  std::vector<std::string> readonly_paths;
  std::map<std::string, std::string> sysctl;
  std::optional<Seccomp> seccomp;
  std::string rootfs_propagation;
};

struct Spec {
  std::string oci_version;
  Process process;
  std::string root_path;
  bool root_readonly = false;
  std::string hostname;
  std::vector<Mount> mounts;
  Hooks hooks;
  LinuxConfig linux_config;
  std::map<std::string, std::string> annotations;

  [[nodiscard]] bool has_new_namespace(int type) const;
  [[nodiscard]] const Namespace* find_namespace(int type) const;
};

// Parses and validates a config.json document. Throws vmm::ConfigError("config.json: ...").
[[nodiscard]] Spec parse_config(std::string_view json);
// Parses a bare "process" object (the --process file of `exec`).
[[nodiscard]] Process parse_process_json(std::string_view json);
// Reads <bundle>/config.json; relative root paths are resolved against the bundle.
[[nodiscard]] Spec load_bundle_config(const std::string& bundle);

// Name tables shared by the parser and the runtime.
[[nodiscard]] std::optional<int> namespace_type_from_name(std::string_view name);
[[nodiscard]] std::string_view namespace_name(int type);
// Capability names in number order (CAP_CHOWN is 0).
[[nodiscard]] std::span<const std::string_view> capability_names();
[[nodiscard]] std::optional<int> capability_from_name(std::string_view name);
[[nodiscard]] std::optional<int> rlimit_from_name(std::string_view name);

// The namespace type (CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS) that isolates sysctl `key`, or
// 0 when none does (such a sysctl would change the host).
[[nodiscard]] int sysctl_namespace(const std::string& key);

}  // namespace vmm::container
