#include "container/cgroup.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "container/path_in_root.hpp"
#include "vmm/common/error.hpp"

namespace vmm::container {
namespace {

constexpr const char* kCgroupRoot = "/sys/fs/cgroup";

void write_file(const std::string& path, const std::string& value) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw system_error("cannot open " + path, errno);
  const ssize_t n = ::write(fd, value.data(), value.size());
  const int err = errno;
  ::close(fd);
  if (n < 0) throw system_error("cannot write '" + value + "' to " + path, err);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string device_rule_value(const DeviceRule& d) {
  const auto num = [](const std::optional<int64_t>& v) {
    return v ? std::to_string(*v) : std::string("*");
  };
  if (d.type == 'a') return "a";
  return std::string(1, d.type) + ' ' + num(d.major) + ':' + num(d.minor) + ' ' + d.access;
}

// The cgroups below `dir` (a system container's init makes its own), deepest first.
std::vector<std::string> descendants(const std::string& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (!entry.is_directory(ec) || entry.is_symlink(ec)) continue;
    auto below = descendants(entry.path().string());
    found.insert(found.end(), below.begin(), below.end());
    found.push_back(entry.path().string());
  }
  return found;
}

// Removes a cgroup with everything below it (a cgroup with children cannot be removed).
void remove_dir(const std::string& dir) noexcept {
  try {
    for (const auto& child : descendants(dir)) ::rmdir(child.c_str());
  } catch (...) {
  }
  for (int i = 0; i < 200; ++i) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
    if (errno != EBUSY) break;
    // Processes still exiting keep the cgroup busy for a moment.
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// The v2 controllers handed down the tree to the container's cgroup.
constexpr std::array<const char*, 6> kDelegated = {"+memory", "+pids", "+cpu",
                                                   "+cpuset", "+io",   "+hugetlb"};

void inherit_cpuset(const std::string& dir) {
  const std::string parent = dir.substr(0, dir.rfind('/'));
  for (const char* file : {"/cpuset.cpus", "/cpuset.mems"}) {
    std::string mine = read_file(dir + file);
    while (!mine.empty() && (mine.back() == '\n' || mine.back() == ' ')) mine.pop_back();
    if (mine.empty()) write_file(dir + file, read_file(parent + file));
  }
}

// An existing leaf cgroup is reused only when nothing runs in it and nothing is below it
// (a stale one); it is recreated so that no limit of its previous owner survives.
void replace_stale_leaf(const std::string& dir) {
  std::vector<std::string> tree = descendants(dir);
  tree.push_back(dir);
  for (const auto& cgroup : tree) {
    std::ifstream procs(cgroup + "/cgroup.procs");
    std::string pid;
    if (procs >> pid) throw Error("cgroup " + dir + " already exists and is in use");
  }
  for (const auto& child : descendants(dir)) ::rmdir(child.c_str());
  if (::rmdir(dir.c_str()) != 0) {
    throw system_error("cgroup " + dir + " already exists and cannot be removed", errno);
  }
  if (::mkdir(dir.c_str(), 0755) != 0) throw system_error("cannot create cgroup " + dir, errno);
}

}  // namespace

const std::vector<std::string>& v1_controllers() {
  // Every controller runc places a container in; those the host lacks are skipped.
  static const std::vector<std::string> kControllers = {
      "memory", "cpu",     "cpuacct", "pids",     "devices",    "freezer", "cpuset",
      "blkio",  "hugetlb", "net_cls", "net_prio", "perf_event", "rdma",    "misc"};
  return kControllers;
}

CgroupLayout parse_cgroup_layout(std::string_view mountinfo, bool root_is_cgroup2) {
  CgroupLayout layout;
  if (root_is_cgroup2) {
    layout.version = CgroupVersion::kV2;
    layout.unified_root = kCgroupRoot;
    return layout;
  }
  layout.version = CgroupVersion::kV1;
  std::istringstream in{std::string(mountinfo)};
  for (std::string line; std::getline(in, line);) {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
    const auto sep = line.find(" - ");
    if (sep == std::string::npos) continue;
    std::istringstream head(line.substr(0, sep));
    std::istringstream tail(line.substr(sep + 3));
    std::string id, parent, devno, root, mountpoint, fstype, source, superopts;
    head >> id >> parent >> devno >> root >> mountpoint;
    tail >> fstype >> source >> superopts;
    if (fstype != "cgroup") continue;
    std::istringstream opts(superopts);
    for (std::string opt; std::getline(opts, opt, ',');) {
      // systemd's own hierarchy: a system container's init tracks its services there.
      if (opt == kSystemdHierarchy && !layout.v1_mounts.count(opt)) {
        layout.v1_mounts.emplace(opt, mountpoint);
      }
      for (const auto& c : v1_controllers()) {
        if (opt == c && !layout.v1_mounts.count(c)) layout.v1_mounts.emplace(c, mountpoint);
      }
    }
  }
  return layout;
}

CgroupLayout detect_cgroup_layout() {
  struct statfs st {};
  if (::statfs(kCgroupRoot, &st) != 0)
    throw system_error(std::string("statfs ") + kCgroupRoot, errno);
  const bool v2 = st.f_type == CGROUP2_SUPER_MAGIC;
  return parse_cgroup_layout(v2 ? std::string() : read_file("/proc/self/mountinfo"), v2);
}

void cpus_to_quota(double cpus, Resources& r) {
  if (!(cpus > 0.0) || cpus > 1024.0) throw ConfigError("--cpus must be a number in (0, 1024]");
  r.cpu_period = 100000;
  r.cpu_quota = static_cast<int64_t>(std::llround(cpus * 100000.0));
  if (*r.cpu_quota < 1000) r.cpu_quota = 1000;  // the kernel's minimum quota is 1 ms
}

std::vector<CgroupWrite> compute_cgroup_writes(const Resources& r, CgroupVersion v) {
  std::vector<CgroupWrite> w;
  const auto limit_text = [&](int64_t value) {
    if (value < 0) return std::string(v == CgroupVersion::kV2 ? "max" : "-1");
    return std::to_string(value);
  };
  if (v == CgroupVersion::kV2) {
    if (r.memory_limit) w.push_back({"memory", "memory.max", limit_text(*r.memory_limit)});
    if (r.memory_swap) {
      // OCI's swap counts memory + swap; v2's swap.max counts swap alone.
      std::string value = "max";
      if (*r.memory_swap >= 0) {
        const int64_t mem = r.memory_limit.value_or(0) > 0 ? *r.memory_limit : 0;
        value = std::to_string(*r.memory_swap > mem ? *r.memory_swap - mem : 0);
      }
      w.push_back({"memory", "memory.swap.max", value, true});
    }
    if (r.memory_reservation)
      w.push_back({"memory", "memory.low", limit_text(*r.memory_reservation)});
    if (r.cpu_quota || r.cpu_period) {
      const uint64_t period = r.cpu_period.value_or(100000);
      const std::string quota =
          r.cpu_quota && *r.cpu_quota > 0 ? std::to_string(*r.cpu_quota) : "max";
      w.push_back({"cpu", "cpu.max", quota + ' ' + std::to_string(period)});
    }
    if (r.cpu_shares) {
      // The conversion runc and crun use: shares [2, 262144] onto weight [1, 10000].
      const uint64_t shares = std::clamp<uint64_t>(*r.cpu_shares, 2, 262144);
      w.push_back({"cpu", "cpu.weight", std::to_string(1 + ((shares - 2) * 9999) / 262142)});
    }
    if (r.pids_limit)
      w.push_back({"pids", "pids.max", *r.pids_limit > 0 ? std::to_string(*r.pids_limit) : "max"});
    if (r.cpuset_cpus) w.push_back({"cpuset", "cpuset.cpus", *r.cpuset_cpus});
    if (r.cpuset_mems) w.push_back({"cpuset", "cpuset.mems", *r.cpuset_mems});
    if (r.blkio_weight) {
      // runc's conversion of blkio weight [10, 1000] onto io.weight [1, 10000].
      const uint64_t weight = 1 + ((*r.blkio_weight - 10ULL) * 9999) / 990;
      w.push_back({"io", "io.weight", "default " + std::to_string(weight)});
    }
    const auto io_max = [&](const std::vector<Resources::BlkioThrottle>& list, const char* key) {
      for (const auto& t : list) {
        w.push_back({"io", "io.max",
                     std::to_string(t.major) + ':' + std::to_string(t.minor) + ' ' + key + '=' +
                         (t.rate > 0 ? std::to_string(t.rate) : "max")});
      }
    };
    io_max(r.read_bps, "rbps");
    io_max(r.write_bps, "wbps");
    io_max(r.read_iops, "riops");
    io_max(r.write_iops, "wiops");
    for (const auto& h : r.hugepage_limits) {
      w.push_back({"hugetlb", "hugetlb." + h.page_size + ".max", std::to_string(h.limit)});
    }
    if (r.memory_swappiness || r.disable_oom_killer.value_or(false) || r.net_class_id ||
        !r.net_priorities.empty()) {
      throw ConfigError(
          "memory.swappiness, memory.disableOOMKiller and network (net_cls, net_prio) exist on "
          "cgroup v1 only");
    }
    // v2 device control needs an eBPF program; the rules are enforced on v1 only (see docs).
    return w;
  }
  if (r.memory_limit) w.push_back({"memory", "memory.limit_in_bytes", limit_text(*r.memory_limit)});
  if (r.memory_swap)
    w.push_back({"memory", "memory.memsw.limit_in_bytes", limit_text(*r.memory_swap), true});
  if (r.memory_reservation) {
    w.push_back({"memory", "memory.soft_limit_in_bytes", limit_text(*r.memory_reservation)});
  }
  if (r.cpu_period) w.push_back({"cpu", "cpu.cfs_period_us", std::to_string(*r.cpu_period)});
  if (r.cpu_quota)
    w.push_back({"cpu", "cpu.cfs_quota_us", std::to_string(*r.cpu_quota > 0 ? *r.cpu_quota : -1)});
  if (r.cpu_shares) w.push_back({"cpu", "cpu.shares", std::to_string(*r.cpu_shares)});
  if (r.pids_limit)
    w.push_back({"pids", "pids.max", *r.pids_limit > 0 ? std::to_string(*r.pids_limit) : "max"});
  for (const auto& d : r.devices) {
    w.push_back({"devices", d.allow ? "devices.allow" : "devices.deny", device_rule_value(d)});
  }
  if (r.memory_swappiness) {
    w.push_back({"memory", "memory.swappiness", std::to_string(*r.memory_swappiness)});
  }
  if (r.disable_oom_killer) {
    w.push_back({"memory", "memory.oom_control", *r.disable_oom_killer ? "1" : "0"});
  }
  if (r.cpuset_cpus) w.push_back({"cpuset", "cpuset.cpus", *r.cpuset_cpus});
  if (r.cpuset_mems) w.push_back({"cpuset", "cpuset.mems", *r.cpuset_mems});
  // blkio.weight exists with CFQ; with BFQ the file is blkio.bfq.weight (Cgroup::update
  // picks the one that exists).
  if (r.blkio_weight) w.push_back({"blkio", "blkio.weight", std::to_string(*r.blkio_weight)});
  const auto throttle = [&](const std::vector<Resources::BlkioThrottle>& list, const char* file) {
    for (const auto& t : list) {
      w.push_back(
          {"blkio", file,
           std::to_string(t.major) + ':' + std::to_string(t.minor) + ' ' + std::to_string(t.rate)});
    }
  };
  throttle(r.read_bps, "blkio.throttle.read_bps_device");
  throttle(r.write_bps, "blkio.throttle.write_bps_device");
  throttle(r.read_iops, "blkio.throttle.read_iops_device");
  throttle(r.write_iops, "blkio.throttle.write_iops_device");
  for (const auto& h : r.hugepage_limits) {
    w.push_back({"hugetlb", "hugetlb." + h.page_size + ".limit_in_bytes", std::to_string(h.limit)});
  }
  if (r.net_class_id) w.push_back({"net_cls", "net_cls.classid", std::to_string(*r.net_class_id)});
  for (const auto& [ifname, prio] : r.net_priorities) {
    w.push_back({"net_prio", "net_prio.ifpriomap", ifname + ' ' + std::to_string(prio)});
  }
  return w;
}

std::vector<DeviceRule> default_device_allow_rules(const std::vector<Device>& extra) {
  std::vector<DeviceRule> r;
  r.push_back({true, 'c', std::nullopt, std::nullopt, "m"});
  r.push_back({true, 'b', std::nullopt, std::nullopt, "m"});
  for (int64_t minor : {3, 5, 7, 8, 9}) r.push_back({true, 'c', 1, minor, "rwm"});
  for (int64_t minor : {0, 1, 2}) r.push_back({true, 'c', 5, minor, "rwm"});
  r.push_back({true, 'c', 136, std::nullopt, "rwm"});
  for (const auto& d : extra) {
    if (d.type == 'c' || d.type == 'b') r.push_back({true, d.type, d.major, d.minor, "rwm"});
  }
  return r;
}

std::map<std::string, std::string> cgroup_directories(const CgroupLayout& layout,
                                                      std::string_view relative) {
  std::string rel;
  for (const auto& part : path_components(relative)) {
    if (part == "..") throw ConfigError("cgroup path must not contain '..'");
    rel += '/' + part;
  }
  if (rel.empty()) throw ConfigError("cgroup path must not be the root cgroup");
  std::map<std::string, std::string> dirs;
  if (layout.version == CgroupVersion::kV2) {
    dirs.emplace("", layout.unified_root + rel);
  } else {
    for (const auto& [controller, mount] : layout.v1_mounts) dirs.emplace(controller, mount + rel);
  }
  return dirs;
}

Cgroup::Cgroup(Cgroup&& o) noexcept
    : version_(o.version_), relative_(std::move(o.relative_)), dirs_(std::exchange(o.dirs_, {})) {}

Cgroup& Cgroup::operator=(Cgroup&& o) noexcept {
  if (this != &o) {
    destroy();
    version_ = o.version_;
    relative_ = std::move(o.relative_);
    dirs_ = std::exchange(o.dirs_, {});
  }
  return *this;
}

Cgroup::~Cgroup() { destroy(); }

Cgroup Cgroup::attach(const CgroupLayout& layout, const std::string& relative) {
  Cgroup cg;
  cg.version_ = layout.version;
  cg.relative_ = relative;
  for (const auto& [controller, dir] : cgroup_directories(layout, relative)) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0) cg.dirs_.emplace(controller, dir);
  }
  return cg;
}

Cgroup Cgroup::create(const CgroupLayout& layout, const std::string& relative,
                      const Resources& resources) {
  Cgroup cg;
  cg.version_ = layout.version;
  cg.relative_ = relative;
  const auto dirs = cgroup_directories(layout, relative);
  std::set<std::string> made;  // v1 controllers may share a hierarchy (cpu,cpuacct)
  for (const auto& [controller, dir] : dirs) {
    if (made.count(dir)) {
      cg.dirs_.emplace(controller, dir);
      continue;
    }
    // Create every missing level; only the leaf is ours to remove, the shared parent stays.
    const auto parts = path_components(relative);
    std::string base = layout.version == CgroupVersion::kV2 ? layout.unified_root
                                                            : layout.v1_mounts.at(controller);
    for (size_t i = 0; i < parts.size(); ++i) {
      base += '/' + parts[i];
      const bool leaf = i + 1 == parts.size();
      if (layout.version == CgroupVersion::kV2 && i == 0) {
        // Delegate the controllers we write down the tree (the root has no internal processes).
        for (const char* c : kDelegated) {
          try {
            write_file(layout.unified_root + "/cgroup.subtree_control", c);
          } catch (const Error&) {
          }
        }
      }
      if (::mkdir(base.c_str(), 0755) != 0) {
        if (errno != EEXIST) throw system_error("cannot create cgroup " + base, errno);
        // A leaf left by a runtime or container killed with SIGKILL: empty, so replaced.
        if (leaf) replace_stale_leaf(base);
      }
      // A new v1 cpuset starts with no CPUs and no memory nodes: nothing could join it.
      if (controller == "cpuset") inherit_cpuset(base);
      if (leaf) {
        cg.dirs_.emplace(controller, base);
        made.insert(base);
      } else if (layout.version == CgroupVersion::kV2) {
        for (const char* c : kDelegated) {
          try {
            write_file(base + "/cgroup.subtree_control", c);
          } catch (const Error&) {
          }
        }
      }
    }
  }
  cg.update(resources);
  return cg;
}

void Cgroup::add_process(pid_t pid) const {
  std::set<std::string> done;
  for (const auto& [controller, dir] : dirs_) {
    if (!done.insert(dir).second) continue;
    write_file(dir + "/cgroup.procs", std::to_string(pid));
  }
}

std::vector<pid_t> Cgroup::processes() const {
  std::vector<pid_t> pids;
  if (dirs_.empty()) return pids;
  const auto it = dirs_.count("pids") ? dirs_.find("pids") : dirs_.begin();
  // The container's own cgroups below its root hold processes too.
  std::vector<std::string> tree = descendants(it->second);
  tree.push_back(it->second);
  for (const auto& dir : tree) {
    std::istringstream in(read_file(dir + "/cgroup.procs"));
    for (long p = 0; in >> p;) pids.push_back(static_cast<pid_t>(p));
  }
  return pids;
}

uint64_t Cgroup::oom_kills() const {
  const std::string key = version_ == CgroupVersion::kV2 ? "" : "memory";
  const auto it = dirs_.find(key);
  if (it == dirs_.end()) return 0;
  const std::string file =
      version_ == CgroupVersion::kV2 ? "/memory.events" : "/memory.oom_control";
  std::istringstream in(read_file(it->second + file));
  std::string name;
  uint64_t value = 0;
  while (in >> name >> value) {
    if (name == "oom_kill") return value;
  }
  return 0;
}

namespace {

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

void Cgroup::set_frozen(bool frozen) const {
  if (version_ == CgroupVersion::kV2) {
    const auto it = dirs_.find("");
    if (it == dirs_.end()) throw Error("the container has no cgroup to freeze");
    write_file(it->second + "/cgroup.freeze", frozen ? "1" : "0");
    // cgroup.events says "frozen 1" once every task stopped.
    for (int i = 0; i < 500; ++i) {
      std::istringstream events(read_file(it->second + "/cgroup.events"));
      std::string key;
      std::string value;
      while (events >> key >> value) {
        if (key == "frozen" && (value == "1") == frozen) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw Error(std::string("the cgroup did not ") + (frozen ? "freeze" : "thaw") + " in 5 s");
  }
  const auto it = dirs_.find("freezer");
  if (it == dirs_.end()) throw Error("the freezer cgroup controller is not available on this host");
  const std::string state = it->second + "/freezer.state";
  const std::string want = frozen ? "FROZEN" : "THAWED";
  // A task in the middle of a fork can leave the group FREEZING: ask again until it holds.
  for (int i = 0; i < 500; ++i) {
    write_file(state, want);
    if (trimmed(read_file(state)) == want) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw Error("the cgroup did not reach " + want + " in 5 s");
}

bool Cgroup::frozen() const {
  try {
    if (version_ == CgroupVersion::kV2) {
      const auto it = dirs_.find("");
      return it != dirs_.end() && trimmed(read_file(it->second + "/cgroup.freeze")) == "1";
    }
    const auto it = dirs_.find("freezer");
    return it != dirs_.end() && trimmed(read_file(it->second + "/freezer.state")) != "THAWED";
  } catch (const Error&) {
    return false;  // gone meanwhile
  }
}

void Cgroup::update(const Resources& resources) const {
  for (const auto& w : compute_cgroup_writes(resources, version_)) {
    const std::string key = version_ == CgroupVersion::kV2 ? "" : w.controller;
    const auto it = dirs_.find(key);
    if (it == dirs_.end()) {
      if (w.optional) continue;
      throw Error("the " + w.controller + " cgroup controller is not available on this host");
    }
    std::string path = it->second + "/" + w.file;
    if (w.file == "blkio.weight" && ::access(path.c_str(), F_OK) != 0) {
      path = it->second + "/blkio.bfq.weight";
      if (::access(path.c_str(), F_OK) != 0) {
        throw Error("blkio weight: this host's I/O scheduler has no weight (no CFQ or BFQ)");
      }
    }
    if (w.optional && ::access(path.c_str(), F_OK) != 0) continue;
    write_file(path, w.value);
  }
}

void Cgroup::destroy() noexcept {
  if (dirs_.empty()) return;
  // Usually nothing is left (init's exit ended its PID namespace) and one rmdir per hierarchy
  // does it; anything still running, frozen or below takes the long way.
  bool busy = false;
  for (const auto& [controller, dir] : dirs_) {
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) busy = true;
  }
  if (!busy) {
    dirs_.clear();
    return;
  }
  try {
    if (frozen()) set_frozen(false);  // a frozen task cannot die
  } catch (...) {
  }
  try {
    for (int round = 0; round < 3; ++round) {
      const auto left = processes();
      if (left.empty()) break;
      for (pid_t p : left) ::kill(p, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  } catch (...) {
  }
  std::set<std::string> done;
  for (const auto& [controller, dir] : dirs_) {
    if (done.insert(dir).second) remove_dir(dir);
  }
  dirs_.clear();
}

}  // namespace vmm::container
