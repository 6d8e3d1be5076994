#pragma once
// Control groups for one container, on cgroup v2 (unified at /sys/fs/cgroup) and on v1 or
// hybrid hosts (one hierarchy per controller; an empty v2 tree may sit beside them and is
// ignored because it carries no controllers).
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "container/oci_config.hpp"

namespace vmm::container {

enum class CgroupVersion { kV1, kV2 };

struct CgroupLayout {
  CgroupVersion version = CgroupVersion::kV2;
  std::string unified_root;                      // v2: the cgroup2 mount point
  std::map<std::string, std::string> v1_mounts;  // v1: controller -> mount point
};

// One value to write: <controller dir>/<file> = value. `optional` files may be missing
// (memory.memsw.* without swap accounting) and are skipped then.
struct CgroupWrite {
  std::string controller;
  std::string file;
  std::string value;
  bool optional = false;
};

// Controllers the runtime places a container in on v1.
[[nodiscard]] const std::vector<std::string>& v1_controllers();
// systemd's named v1 hierarchy, a key of CgroupLayout::v1_mounts when the host has it: a
// container gets its own cgroup there as in every controller's hierarchy.
inline constexpr const char* kSystemdHierarchy = "name=systemd";

// Parses /proc/self/mountinfo text. `root_is_cgroup2`: statfs(/sys/fs/cgroup) is cgroup2.
[[nodiscard]] CgroupLayout parse_cgroup_layout(std::string_view mountinfo, bool root_is_cgroup2);
[[nodiscard]] CgroupLayout detect_cgroup_layout();

// The files and values that express `r` on the given version, in the order to write them.
[[nodiscard]] std::vector<CgroupWrite> compute_cgroup_writes(const Resources& r, CgroupVersion v);

// The device rules a container always gets, after its own: the nodes of a minimal /dev
// (null, zero, full, random, urandom, tty, console, ptmx, pts/*) and the extra devices the
// spec creates (linux.devices), plus mknod of anything (opening stays denied).
[[nodiscard]] std::vector<DeviceRule> default_device_allow_rules(const std::vector<Device>& extra);

// Directories of the cgroup `relative` (e.g. "vmm/web") per controller ("" on v2).
[[nodiscard]] std::map<std::string, std::string> cgroup_directories(const CgroupLayout& layout,
                                                                    std::string_view relative);

// --cpus N as quota/period on a 100 ms period. Throws ConfigError when N is not in (0, 1024].
void cpus_to_quota(double cpus, Resources& r);

// Owner of one container's cgroup directories: removed on destruction unless released.
class Cgroup final {
 public:
  Cgroup() = default;
  // Creates the directories and writes the limits; on failure nothing is left behind.
  [[nodiscard]] static Cgroup create(const CgroupLayout& layout, const std::string& relative,
                                     const Resources& resources);
  // Refers to an existing cgroup (for `delete`), owning it from now on.
  [[nodiscard]] static Cgroup attach(const CgroupLayout& layout, const std::string& relative);
  Cgroup(const Cgroup&) = delete;
  Cgroup& operator=(const Cgroup&) = delete;
  Cgroup(Cgroup&& o) noexcept;
  Cgroup& operator=(Cgroup&& o) noexcept;
  ~Cgroup();

  void add_process(pid_t pid) const;
  [[nodiscard]] std::vector<pid_t> processes() const;
  // Freezes (true) or thaws every process of the cgroup: the v1 freezer or v2 cgroup.freeze.
  // Returns once the kernel reports the new state. Throws vmm::Error when it cannot.
  void set_frozen(bool frozen) const;
  [[nodiscard]] bool frozen() const;
  // Writes new limits into the running cgroup (runc update).
  void update(const Resources& resources) const;
  // How many times the OOM killer killed a process of this cgroup.
  [[nodiscard]] uint64_t oom_kills() const;
  [[nodiscard]] bool empty() const noexcept { return dirs_.empty(); }
  [[nodiscard]] const std::string& relative() const noexcept { return relative_; }
  // Kills what is left, waits briefly for it to go, removes the directories.
  void destroy() noexcept;
  void release() noexcept { dirs_.clear(); }
  [[nodiscard]] const std::map<std::string, std::string>& directories() const noexcept {
    return dirs_;
  }

 private:
  CgroupVersion version_ = CgroupVersion::kV2;
  std::string relative_;
  std::map<std::string, std::string> dirs_;  // controller ("" on v2) -> directory
};

}  // namespace vmm::container
