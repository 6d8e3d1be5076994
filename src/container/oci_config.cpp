#include "container/oci_config.hpp"

#include <sched.h>
#include <sys/resource.h>

#include <array>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "vmm/common/error.hpp"

namespace vmm::container {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& field, const std::string& problem) {
  throw ConfigError("config.json: " + field + ": " + problem);
}

const json* member(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

void require_object(const json& v, const std::string& field) {
  if (!v.is_object()) fail(field, "must be an object");
}

std::string get_string(const json& v, const std::string& field) {
  if (!v.is_string()) fail(field, "must be a string");
  return v.get<std::string>();
}

bool get_bool(const json& v, const std::string& field) {
  if (!v.is_boolean()) fail(field, "must be a boolean");
  return v.get<bool>();
}

int64_t get_int(const json& v, const std::string& field, int64_t lo, int64_t hi) {
  int64_t out = 0;
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) fail(field, "out of range");
    out = static_cast<int64_t>(u);
  } else if (v.is_number_integer()) {
    out = v.get<int64_t>();
  } else {
    fail(field, "must be an integer");
  }
  if (out < lo || out > hi) fail(field, "out of range");
  return out;
}

uint64_t get_uint64(const json& v, const std::string& field) {
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
    fail(field, "must be a non-negative integer");
  }
  return v.get<uint64_t>();
}

uint32_t get_u32(const json& v, const std::string& field) {
  return static_cast<uint32_t>(get_int(v, field, 0, std::numeric_limits<uint32_t>::max()));
}

std::vector<std::string> get_strings(const json& v, const std::string& field) {
  if (!v.is_array()) fail(field, "must be an array of strings");
  std::vector<std::string> out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    out.push_back(get_string(v[i], field + "[" + std::to_string(i) + "]"));
  }
  return out;
}

std::string require_absolute(std::string p, const std::string& field) {
  if (p.empty() || p.front() != '/') fail(field, "must be an absolute path");
  if (p.find('\0') != std::string::npos) fail(field, "contains a NUL byte");
  return p;
}

void check_env(const std::vector<std::string>& env, const std::string& field) {
  for (const auto& e : env) {
    const auto eq = e.find('=');
    if (eq == std::string::npos || eq == 0) fail(field, "entry '" + e + "' is not KEY=VALUE");
  }
}

std::vector<int> parse_cap_list(const json& v, const std::string& field) {
  std::vector<int> out;
  for (const auto& name : get_strings(v, field)) {
    const auto cap = capability_from_name(name);
    if (!cap) fail(field, "unknown capability '" + name + "'");
    out.push_back(*cap);
  }
  return out;
}

std::vector<IdMapping> parse_mappings(const json& v, const std::string& field) {
  if (!v.is_array()) fail(field, "must be an array");
  std::vector<IdMapping> out;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string f = field + "[" + std::to_string(i) + "]";
    require_object(v[i], f);
    IdMapping m;
    const json* c = member(v[i], "containerID");
    const json* h = member(v[i], "hostID");
    const json* s = member(v[i], "size");
    if (!c || !h || !s) fail(f, "needs containerID, hostID and size");
    m.container_id = get_u32(*c, f + ".containerID");
    m.host_id = get_u32(*h, f + ".hostID");
    m.size = get_u32(*s, f + ".size");
    out.push_back(m);
  }
  return out;
}

Hook parse_hook(const json& v, const std::string& field) {
  require_object(v, field);
  Hook h;
  const json* p = member(v, "path");
  if (!p) fail(field, "needs a path");
  h.path = require_absolute(get_string(*p, field + ".path"), field + ".path");
  if (const json* a = member(v, "args")) h.args = get_strings(*a, field + ".args");
  if (const json* e = member(v, "env")) {
    h.env = get_strings(*e, field + ".env");
    check_env(h.env, field + ".env");
  }
  if (const json* t = member(v, "timeout")) {
    h.timeout_s = static_cast<int>(get_int(*t, field + ".timeout", 1, 86400));
  }
  return h;
}

std::vector<Hook> parse_hook_list(const json& hooks, const char* key) {
  std::vector<Hook> out;
  const json* list = member(hooks, key);
  if (!list) return out;
  const std::string field = std::string("hooks.") + key;
  if (!list->is_array()) fail(field, "must be an array");
  for (size_t i = 0; i < list->size(); ++i) {
    out.push_back(parse_hook((*list)[i], field + "[" + std::to_string(i) + "]"));
  }
  return out;
}

Process parse_process(const json& v) {
  require_object(v, "process");
  Process p;
  if (const json* t = member(v, "terminal")) p.terminal = get_bool(*t, "process.terminal");
  if (const json* cs = member(v, "consoleSize")) {
    require_object(*cs, "process.consoleSize");
    if (const json* h = member(*cs, "height")) {
      p.console_height = static_cast<uint16_t>(get_int(*h, "process.consoleSize.height", 0, 65535));
    }
    if (const json* w = member(*cs, "width")) {
      p.console_width = static_cast<uint16_t>(get_int(*w, "process.consoleSize.width", 0, 65535));
    }
  }
  const json* args = member(v, "args");
  if (!args) fail("process.args", "is required");
  p.args = get_strings(*args, "process.args");
  if (p.args.empty() || p.args.front().empty()) fail("process.args", "must name a program");
  if (const json* e = member(v, "env")) {
    p.env = get_strings(*e, "process.env");
    check_env(p.env, "process.env");
  }
  const json* cwd = member(v, "cwd");
  if (!cwd) fail("process.cwd", "is required");
  p.cwd = require_absolute(get_string(*cwd, "process.cwd"), "process.cwd");
  if (const json* u = member(v, "user")) {
    require_object(*u, "process.user");
    if (const json* x = member(*u, "uid")) p.user.uid = get_u32(*x, "process.user.uid");
    if (const json* x = member(*u, "gid")) p.user.gid = get_u32(*x, "process.user.gid");
    if (const json* x = member(*u, "umask")) p.user.umask = get_u32(*x, "process.user.umask");
    if (const json* x = member(*u, "additionalGids")) {
      if (!x->is_array()) fail("process.user.additionalGids", "must be an array");
      for (const auto& g : *x)
        p.user.additional_gids.push_back(get_u32(g, "process.user.additionalGids"));
    }
  }
  if (const json* c = member(v, "capabilities")) {
    require_object(*c, "process.capabilities");
    if (const json* x = member(*c, "bounding")) {
      p.capabilities.bounding = parse_cap_list(*x, "process.capabilities.bounding");
    }
    if (const json* x = member(*c, "effective")) {
      p.capabilities.effective = parse_cap_list(*x, "process.capabilities.effective");
    }
    if (const json* x = member(*c, "permitted")) {
      p.capabilities.permitted = parse_cap_list(*x, "process.capabilities.permitted");
    }
    if (const json* x = member(*c, "inheritable")) {
      p.capabilities.inheritable = parse_cap_list(*x, "process.capabilities.inheritable");
    }
    if (const json* x = member(*c, "ambient")) {
      p.capabilities.ambient = parse_cap_list(*x, "process.capabilities.ambient");
    }
  }
  if (const json* r = member(v, "rlimits")) {
    if (!r->is_array()) fail("process.rlimits", "must be an array");
    for (size_t i = 0; i < r->size(); ++i) {
      const std::string f = "process.rlimits[" + std::to_string(i) + "]";
      const json& e = (*r)[i];
      require_object(e, f);
      const json* type = member(e, "type");
      const json* soft = member(e, "soft");
      const json* hard = member(e, "hard");
      if (!type || !soft || !hard) fail(f, "needs type, soft and hard");
      const auto name = get_string(*type, f + ".type");
      const auto res = rlimit_from_name(name);
      if (!res) fail(f + ".type", "unknown rlimit '" + name + "'");
      Rlimit rl{*res, get_uint64(*soft, f + ".soft"), get_uint64(*hard, f + ".hard")};
      if (rl.soft > rl.hard) fail(f, "soft limit exceeds hard limit");
      for (const auto& prev : p.rlimits) {
        if (prev.resource == rl.resource) fail(f + ".type", "duplicate rlimit '" + name + "'");
      }
      p.rlimits.push_back(rl);
    }
  }
  if (const json* n = member(v, "noNewPrivileges")) {
    p.no_new_privileges = get_bool(*n, "process.noNewPrivileges");
  }
  if (const json* o = member(v, "oomScoreAdj")) {
    p.oom_score_adj = static_cast<int>(get_int(*o, "process.oomScoreAdj", -1000, 1000));
  }
  return p;
}

Resources parse_resources(const json& v) {
  require_object(v, "linux.resources");
  Resources r;
  if (const json* m = member(v, "memory")) {
    require_object(*m, "linux.resources.memory");
    const int64_t max = std::numeric_limits<int64_t>::max();
    if (const json* x = member(*m, "limit"))
      r.memory_limit = get_int(*x, "linux.resources.memory.limit", -1, max);
    if (const json* x = member(*m, "swap"))
      r.memory_swap = get_int(*x, "linux.resources.memory.swap", -1, max);
    if (const json* x = member(*m, "reservation")) {
      r.memory_reservation = get_int(*x, "linux.resources.memory.reservation", -1, max);
    }
    if (r.memory_limit && *r.memory_limit == 0)
      fail("linux.resources.memory.limit", "must not be 0");
    if (r.memory_limit && r.memory_swap && *r.memory_limit > 0 && *r.memory_swap > 0 &&
        *r.memory_swap < *r.memory_limit) {
      fail("linux.resources.memory.swap",
           "must be at least memory.limit (it counts memory + swap)");
    }
  }
  if (const json* c = member(v, "cpu")) {
    require_object(*c, "linux.resources.cpu");
    if (const json* x = member(*c, "shares"))
      r.cpu_shares = get_uint64(*x, "linux.resources.cpu.shares");
    if (const json* x = member(*c, "quota")) {
      r.cpu_quota =
          get_int(*x, "linux.resources.cpu.quota", -1, std::numeric_limits<int64_t>::max());
      if (*r.cpu_quota == 0) fail("linux.resources.cpu.quota", "must not be 0");
    }
    if (const json* x = member(*c, "period")) {
      r.cpu_period = get_uint64(*x, "linux.resources.cpu.period");
      if (*r.cpu_period < 1000 || *r.cpu_period > 1000000) {
        fail("linux.resources.cpu.period", "must be between 1000 and 1000000 microseconds");
      }
    }
  }
  if (const json* p = member(v, "pids")) {
    require_object(*p, "linux.resources.pids");
    const json* x = member(*p, "limit");
    if (!x) fail("linux.resources.pids.limit", "is required");
    r.pids_limit = get_int(*x, "linux.resources.pids.limit", std::numeric_limits<int64_t>::min(),
                           std::numeric_limits<int64_t>::max());
  }
  if (const json* d = member(v, "devices")) {
    if (!d->is_array()) fail("linux.resources.devices", "must be an array");
    for (size_t i = 0; i < d->size(); ++i) {
      const std::string f = "linux.resources.devices[" + std::to_string(i) + "]";
      const json& e = (*d)[i];
      require_object(e, f);
      DeviceRule rule;
      const json* allow = member(e, "allow");
      if (!allow) fail(f + ".allow", "is required");
      rule.allow = get_bool(*allow, f + ".allow");
      if (const json* t = member(e, "type")) {
        const auto type = get_string(*t, f + ".type");
        if (type != "a" && type != "b" && type != "c") fail(f + ".type", "must be a, b or c");
        rule.type = type[0];
      }
      if (const json* x = member(e, "major")) rule.major = get_int(*x, f + ".major", -1, 0xfff);
      if (const json* x = member(e, "minor")) rule.minor = get_int(*x, f + ".minor", -1, 0xfffff);
      if (rule.major && *rule.major < 0) rule.major.reset();
      if (rule.minor && *rule.minor < 0) rule.minor.reset();
      if (const json* a = member(e, "access")) {
        rule.access = get_string(*a, f + ".access");
        if (rule.access.empty() || rule.access.find_first_not_of("rwm") != std::string::npos) {
          fail(f + ".access", "must be a combination of r, w and m");
        }
      }
      r.devices.push_back(rule);
    }
  }
  if (const json* m = member(v, "memory")) {
    if (const json* x = member(*m, "swappiness")) {
      r.memory_swappiness = get_uint64(*x, "linux.resources.memory.swappiness");
      if (*r.memory_swappiness > 100) fail("linux.resources.memory.swappiness", "must be 0..100");
    }
    if (const json* x = member(*m, "disableOOMKiller")) {
      r.disable_oom_killer = get_bool(*x, "linux.resources.memory.disableOOMKiller");
    }
  }
  if (const json* c = member(v, "cpu")) {
    const auto cpu_list = [&](const char* key) -> std::optional<std::string> {
      const json* x = member(*c, key);
      if (!x) return std::nullopt;
      const std::string f = std::string("linux.resources.cpu.") + key;
      std::string list = get_string(*x, f);
      if (list.find_first_not_of("0123456789,-") != std::string::npos) {
        fail(f, "must be a list such as 0-2,4");
      }
      return list;
    };
    r.cpuset_cpus = cpu_list("cpus");
    r.cpuset_mems = cpu_list("mems");
  }
  if (const json* b = member(v, "blockIO")) {
    require_object(*b, "linux.resources.blockIO");
    if (const json* x = member(*b, "weight")) {
      r.blkio_weight =
          static_cast<uint16_t>(get_int(*x, "linux.resources.blockIO.weight", 10, 1000));
    }
    const auto throttles = [&](const char* key, std::vector<Resources::BlkioThrottle>& out) {
      const json* list = member(*b, key);
      if (!list) return;
      const std::string f = std::string("linux.resources.blockIO.") + key;
      if (!list->is_array()) fail(f, "must be an array");
      for (size_t i = 0; i < list->size(); ++i) {
        const std::string fi = f + "[" + std::to_string(i) + "]";
        const json& e = (*list)[i];
        require_object(e, fi);
        const json* major = member(e, "major");
        const json* minor = member(e, "minor");
        const json* rate = member(e, "rate");
        if (!major || !minor || !rate) fail(fi, "needs major, minor and rate");
        out.push_back({get_int(*major, fi + ".major", 0, 0xfff),
                       get_int(*minor, fi + ".minor", 0, 0xfffff),
                       get_uint64(*rate, fi + ".rate")});
      }
    };
    throttles("throttleReadBpsDevice", r.read_bps);
    throttles("throttleWriteBpsDevice", r.write_bps);
    throttles("throttleReadIOPSDevice", r.read_iops);
    throttles("throttleWriteIOPSDevice", r.write_iops);
  }
  if (const json* h = member(v, "hugepageLimits")) {
    if (!h->is_array()) fail("linux.resources.hugepageLimits", "must be an array");
    for (size_t i = 0; i < h->size(); ++i) {
      const std::string f = "linux.resources.hugepageLimits[" + std::to_string(i) + "]";
      const json& e = (*h)[i];
      require_object(e, f);
      const json* size = member(e, "pageSize");
      const json* limit = member(e, "limit");
      if (!size || !limit) fail(f, "needs pageSize and limit");
      Resources::HugepageLimit l{get_string(*size, f + ".pageSize"),
                                 get_uint64(*limit, f + ".limit")};
      if (l.page_size.empty() ||
          l.page_size.find_first_not_of("0123456789KMGB") != std::string::npos) {
        fail(f + ".pageSize", "must be a size such as 2MB");
      }
      r.hugepage_limits.push_back(std::move(l));
    }
  }
  if (const json* n = member(v, "network")) {
    require_object(*n, "linux.resources.network");
    if (const json* x = member(*n, "classID")) {
      r.net_class_id = get_u32(*x, "linux.resources.network.classID");
    }
    if (const json* list = member(*n, "priorities")) {
      if (!list->is_array()) fail("linux.resources.network.priorities", "must be an array");
      for (size_t i = 0; i < list->size(); ++i) {
        const std::string f = "linux.resources.network.priorities[" + std::to_string(i) + "]";
        const json& e = (*list)[i];
        require_object(e, f);
        const json* name = member(e, "name");
        const json* prio = member(e, "priority");
        if (!name || !prio) fail(f, "needs name and priority");
        const std::string ifname = get_string(*name, f + ".name");
        if (ifname.empty() || ifname.size() > 15 ||
            ifname.find_first_of(" \n/") != std::string::npos) {
          fail(f + ".name", "is not an interface name");
        }
        r.net_priorities.emplace_back(ifname, get_u32(*prio, f + ".priority"));
      }
    }
  }
  return r;
}

Seccomp parse_seccomp(const json& v) {
  require_object(v, "linux.seccomp");
  Seccomp s;
  const json* d = member(v, "defaultAction");
  if (!d) fail("linux.seccomp.defaultAction", "is required");
  s.default_action = get_string(*d, "linux.seccomp.defaultAction");
  if (const json* x = member(v, "defaultErrnoRet")) {
    s.default_errno_ret = get_u32(*x, "linux.seccomp.defaultErrnoRet");
  }
  if (const json* a = member(v, "architectures")) {
    s.architectures = get_strings(*a, "linux.seccomp.architectures");
  }
  if (const json* list = member(v, "syscalls")) {
    if (!list->is_array()) fail("linux.seccomp.syscalls", "must be an array");
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string f = "linux.seccomp.syscalls[" + std::to_string(i) + "]";
      const json& e = (*list)[i];
      require_object(e, f);
      SeccompRule rule;
      const json* names = member(e, "names");
      const json* action = member(e, "action");
      if (!names || !action) fail(f, "needs names and action");
      rule.names = get_strings(*names, f + ".names");
      rule.action = get_string(*action, f + ".action");
      if (const json* x = member(e, "errnoRet")) rule.errno_ret = get_u32(*x, f + ".errnoRet");
      if (const json* args = member(e, "args")) {
        if (!args->is_array()) fail(f + ".args", "must be an array");
        for (const auto& a : *args) {
          require_object(a, f + ".args");
          SeccompArg arg;
          const json* idx = member(a, "index");
          const json* val = member(a, "value");
          const json* op = member(a, "op");
          if (!idx || !val || !op) fail(f + ".args", "needs index, value and op");
          arg.index = static_cast<unsigned>(get_int(*idx, f + ".args.index", 0, 5));
          arg.value = get_uint64(*val, f + ".args.value");
          if (const json* v2 = member(a, "valueTwo"))
            arg.value_two = get_uint64(*v2, f + ".args.valueTwo");
          arg.op = get_string(*op, f + ".args.op");
          rule.args.push_back(arg);
        }
      }
      s.syscalls.push_back(std::move(rule));
    }
  }
  return s;
}

}  // namespace

int sysctl_namespace(const std::string& key) {
  static constexpr std::array<std::string_view, 6> kIpc = {"kernel.msgmax", "kernel.msgmnb",
                                                           "kernel.msgmni", "kernel.sem",
                                                           "kernel.shmall", "kernel.shmmax"};
  const auto starts = [&](std::string_view p) { return key.rfind(p, 0) == 0; };
  for (auto k : kIpc) {
    if (key == k) return CLONE_NEWIPC;
  }
  if (key == "kernel.shmmni" || key == "kernel.shm_rmid_forced" || starts("fs.mqueue.")) {
    return CLONE_NEWIPC;
  }
  if (starts("net.")) return CLONE_NEWNET;
  if (key == "kernel.hostname" || key == "kernel.domainname") return CLONE_NEWUTS;
  return 0;
}

namespace {

// Only sysctls isolated by a namespace of the container (a new one, or one it joins by path,
// which launch() checks is not the runtime's own) may be set.
bool sysctl_is_namespaced(const std::string& key, const Spec& spec) {
  return sysctl_namespace(key) != 0 && spec.find_namespace(sysctl_namespace(key)) != nullptr;
}

LinuxConfig parse_linux(const json& v, Spec& spec) {
  require_object(v, "linux");
  LinuxConfig l;
  if (const json* ns = member(v, "namespaces")) {
    if (!ns->is_array()) fail("linux.namespaces", "must be an array");
    for (size_t i = 0; i < ns->size(); ++i) {
      const std::string f = "linux.namespaces[" + std::to_string(i) + "]";
      require_object((*ns)[i], f);
      const json* t = member((*ns)[i], "type");
      if (!t) fail(f + ".type", "is required");
      const auto name = get_string(*t, f + ".type");
      const auto type = namespace_type_from_name(name);
      if (!type) fail(f + ".type", "unknown namespace type '" + name + "'");
      Namespace n{*type, {}};
      if (const json* p = member((*ns)[i], "path"))
        n.path = require_absolute(get_string(*p, f + ".path"), f + ".path");
      for (const auto& prev : l.namespaces) {
        if (prev.type == n.type) fail(f + ".type", "namespace '" + name + "' listed twice");
      }
      l.namespaces.push_back(std::move(n));
    }
  }
  if (const json* m = member(v, "uidMappings"))
    l.uid_mappings = parse_mappings(*m, "linux.uidMappings");
  if (const json* m = member(v, "gidMappings"))
    l.gid_mappings = parse_mappings(*m, "linux.gidMappings");
  if (const json* r = member(v, "resources")) l.resources = parse_resources(*r);
  if (const json* c = member(v, "cgroupsPath")) {
    l.cgroups_path = get_string(*c, "linux.cgroupsPath");
    // systemd-style "slice:prefix:name" paths are not supported; plain paths must stay inside.
    if (l.cgroups_path.find(':') != std::string::npos)
      fail("linux.cgroupsPath", "systemd cgroup paths are not supported");
    std::stringstream ss(l.cgroups_path);
    for (std::string part; std::getline(ss, part, '/');) {
      if (part == "..") fail("linux.cgroupsPath", "must not contain '..'");
    }
  }
  if (const json* d = member(v, "devices")) {
    if (!d->is_array()) fail("linux.devices", "must be an array");
    for (size_t i = 0; i < d->size(); ++i) {
      const std::string f = "linux.devices[" + std::to_string(i) + "]";
      const json& e = (*d)[i];
      require_object(e, f);
      Device dev;
      const json* p = member(e, "path");
      const json* t = member(e, "type");
      if (!p || !t) fail(f, "needs path and type");
      dev.path = require_absolute(get_string(*p, f + ".path"), f + ".path");
      if (dev.path.empty() || dev.path[0] != '/') fail(f + ".path", "must be an absolute path");
      const auto type = get_string(*t, f + ".type");
      if (type != "c" && type != "b" && type != "u" && type != "p")
        fail(f + ".type", "must be c, b, u or p");
      dev.type = type[0];
      if (dev.type != 'p') {
        const json* ma = member(e, "major");
        const json* mi = member(e, "minor");
        if (!ma || !mi) fail(f, "needs major and minor");
        dev.major = get_int(*ma, f + ".major", 0, 0xfff);
        dev.minor = get_int(*mi, f + ".minor", 0, 0xfffff);
      }
      if (const json* x = member(e, "fileMode"))
        dev.file_mode = get_u32(*x, f + ".fileMode") & 07777U;
      if (const json* x = member(e, "uid")) dev.uid = get_u32(*x, f + ".uid");
      if (const json* x = member(e, "gid")) dev.gid = get_u32(*x, f + ".gid");
      l.devices.push_back(std::move(dev));
    }
  }
  if (const json* m = member(v, "maskedPaths")) {
    l.masked_paths = get_strings(*m, "linux.maskedPaths");
    for (auto& p : l.masked_paths) require_absolute(p, "linux.maskedPaths");
  }
  if (const json* m = member(v, "readonlyPaths")) {
    l.readonly_paths = get_strings(*m, "linux.readonlyPaths");
    for (auto& p : l.readonly_paths) require_absolute(p, "linux.readonlyPaths");
  }
  if (const json* s = member(v, "seccomp")) l.seccomp = parse_seccomp(*s);
  if (const json* p = member(v, "rootfsPropagation")) {
    l.rootfs_propagation = get_string(*p, "linux.rootfsPropagation");
    static constexpr std::array<std::string_view, 8> kOk = {
        "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"};
    bool ok = false;
    for (auto k : kOk) ok = ok || l.rootfs_propagation == k;
    if (!ok) fail("linux.rootfsPropagation", "unknown propagation '" + l.rootfs_propagation + "'");
  }
  spec.linux_config.namespaces = l.namespaces;  // needed by the sysctl check below
  if (const json* s = member(v, "sysctl")) {
    require_object(*s, "linux.sysctl");
    for (const auto& [key, value] : s->items()) {
      const auto val = get_string(value, "linux.sysctl." + key);
      if (key.empty() || key.find('/') != std::string::npos ||
          key.find("..") != std::string::npos) {
        fail("linux.sysctl", "invalid key '" + key + "'");
      }
      if (!sysctl_is_namespaced(key, spec)) {
        fail("linux.sysctl." + key, "is not isolated by a namespace this container owns");
      }
      l.sysctl.emplace(key, val);
    }
  }
  return l;
}

}  // namespace

bool Spec::has_new_namespace(int type) const {
  const Namespace* ns = find_namespace(type);
  return ns != nullptr && ns->path.empty();
}

const Namespace* Spec::find_namespace(int type) const {
  for (const auto& ns : linux_config.namespaces) {
    if (ns.type == type) return &ns;
  }
  return nullptr;
}

Resources parse_resources_json(std::string_view json_text) {
  json doc;
  try {
    doc = json::parse(json_text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 1e999
    throw ConfigError(std::string("resources: not valid JSON: ") + e.what());
  }
  return parse_resources(doc);
}

Spec parse_config(std::string_view text) {
  json doc;
  try {
    doc = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    throw ConfigError(std::string("config.json: not valid JSON: ") + e.what());
  }
  if (!doc.is_object()) fail("document", "must be a JSON object");
  Spec spec;
  const json* version = member(doc, "ociVersion");
  if (!version) fail("ociVersion", "is required");
  spec.oci_version = get_string(*version, "ociVersion");
  if (spec.oci_version.rfind("1.", 0) != 0)
    fail("ociVersion", "unsupported version '" + spec.oci_version + "'");

  const json* root = member(doc, "root");
  if (!root) fail("root", "is required");
  require_object(*root, "root");
  const json* root_path = member(*root, "path");
  if (!root_path) fail("root.path", "is required");
  spec.root_path = get_string(*root_path, "root.path");
  if (spec.root_path.empty()) fail("root.path", "must not be empty");
  if (const json* ro = member(*root, "readonly"))
    spec.root_readonly = get_bool(*ro, "root.readonly");

  const json* process = member(doc, "process");
  if (!process) fail("process", "is required");
  spec.process = parse_process(*process);

  if (const json* h = member(doc, "hostname")) spec.hostname = get_string(*h, "hostname");
  if (spec.hostname.size() > 64) fail("hostname", "longer than 64 characters");

  if (const json* mounts = member(doc, "mounts")) {
    if (!mounts->is_array()) fail("mounts", "must be an array");
    for (size_t i = 0; i < mounts->size(); ++i) {
      const std::string f = "mounts[" + std::to_string(i) + "]";
      const json& e = (*mounts)[i];
      require_object(e, f);
      Mount m;
      const json* dest = member(e, "destination");
      if (!dest) fail(f + ".destination", "is required");
      m.destination = require_absolute(get_string(*dest, f + ".destination"), f + ".destination");
      if (const json* t = member(e, "type")) m.type = get_string(*t, f + ".type");
      if (const json* s = member(e, "source")) m.source = get_string(*s, f + ".source");
      if (const json* o = member(e, "options")) m.options = get_strings(*o, f + ".options");
      spec.mounts.push_back(std::move(m));
    }
  }
  if (const json* hooks = member(doc, "hooks")) {
    require_object(*hooks, "hooks");
    spec.hooks.prestart = parse_hook_list(*hooks, "prestart");
    spec.hooks.create_runtime = parse_hook_list(*hooks, "createRuntime");
    spec.hooks.create_container = parse_hook_list(*hooks, "createContainer");
    spec.hooks.start_container = parse_hook_list(*hooks, "startContainer");
    spec.hooks.poststart = parse_hook_list(*hooks, "poststart");
    spec.hooks.poststop = parse_hook_list(*hooks, "poststop");
  }
  if (const json* l = member(doc, "linux")) spec.linux_config = parse_linux(*l, spec);
  if (!spec.hostname.empty() && spec.find_namespace(CLONE_NEWUTS) == nullptr) {
    fail("hostname", "needs a uts namespace");
  }
  if (!spec.has_new_namespace(CLONE_NEWUSER) &&
      (!spec.linux_config.uid_mappings.empty() || !spec.linux_config.gid_mappings.empty())) {
    fail("linux.uidMappings", "mappings need a new user namespace");
  }
  if (const json* a = member(doc, "annotations")) {
    require_object(*a, "annotations");
    for (const auto& [k, val] : a->items())
      spec.annotations.emplace(k, get_string(val, "annotations." + k));
  }
  return spec;
}

Process parse_process_json(std::string_view text) {
  json doc;
  try {
    doc = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    throw ConfigError(std::string("process.json: not valid JSON: ") + e.what());
  }
  return parse_process(doc);
}

Spec load_bundle_config(const std::string& bundle) {
  const std::string path = bundle + "/config.json";
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  Spec spec = parse_config(ss.str());
  if (spec.root_path.front() != '/') spec.root_path = bundle + "/" + spec.root_path;
  return spec;
}

std::optional<int> namespace_type_from_name(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, int>, 8> kTypes = {{
      {"pid", CLONE_NEWPID},
      {"network", CLONE_NEWNET},
      {"mount", CLONE_NEWNS},
      {"ipc", CLONE_NEWIPC},
      {"uts", CLONE_NEWUTS},
      {"user", CLONE_NEWUSER},
      {"cgroup", CLONE_NEWCGROUP},
      {"time", CLONE_NEWTIME},
  }};
  for (const auto& [n, t] : kTypes) {
    if (n == name) return t;
  }
  return std::nullopt;
}

std::string_view namespace_name(int type) {
  switch (type) {
    case CLONE_NEWPID:
      return "pid";
    case CLONE_NEWNET:
      return "net";
    case CLONE_NEWNS:
      return "mnt";
    case CLONE_NEWIPC:
      return "ipc";
    case CLONE_NEWUTS:
      return "uts";
    case CLONE_NEWUSER:
      return "user";
    case CLONE_NEWCGROUP:
      return "cgroup";
    case CLONE_NEWTIME:
      return "time";
    default:
      return "unknown";
  }
}

std::span<const std::string_view> capability_names() {
  static constexpr std::array<std::string_view, 41> kNames = {"CAP_CHOWN",
                                                              "CAP_DAC_OVERRIDE",
                                                              "CAP_DAC_READ_SEARCH",
                                                              "CAP_FOWNER",
                                                              "CAP_FSETID",
                                                              "CAP_KILL",
                                                              "CAP_SETGID",
                                                              "CAP_SETUID",
                                                              "CAP_SETPCAP",
                                                              "CAP_LINUX_IMMUTABLE",
                                                              "CAP_NET_BIND_SERVICE",
                                                              "CAP_NET_BROADCAST",
                                                              "CAP_NET_ADMIN",
                                                              "CAP_NET_RAW",
                                                              "CAP_IPC_LOCK",
                                                              "CAP_IPC_OWNER",
                                                              "CAP_SYS_MODULE",
                                                              "CAP_SYS_RAWIO",
                                                              "CAP_SYS_CHROOT",
                                                              "CAP_SYS_PTRACE",
                                                              "CAP_SYS_PACCT",
                                                              "CAP_SYS_ADMIN",
                                                              "CAP_SYS_BOOT",
                                                              "CAP_SYS_NICE",
                                                              "CAP_SYS_RESOURCE",
                                                              "CAP_SYS_TIME",
                                                              "CAP_SYS_TTY_CONFIG",
                                                              "CAP_MKNOD",
                                                              "CAP_LEASE",
                                                              "CAP_AUDIT_WRITE",
                                                              "CAP_AUDIT_CONTROL",
                                                              "CAP_SETFCAP",
                                                              "CAP_MAC_OVERRIDE",
                                                              "CAP_MAC_ADMIN",
                                                              "CAP_SYSLOG",
                                                              "CAP_WAKE_ALARM",
                                                              "CAP_BLOCK_SUSPEND",
                                                              "CAP_AUDIT_READ",
                                                              "CAP_PERFMON",
                                                              "CAP_BPF",
                                                              "CAP_CHECKPOINT_RESTORE"};
  return kNames;
}

std::optional<int> capability_from_name(std::string_view name) {
  const auto kNames = capability_names();
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<int>(i);
  }
  return std::nullopt;
}

std::optional<int> rlimit_from_name(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, int>, 16> kLimits = {{
      {"RLIMIT_CPU", RLIMIT_CPU},
      {"RLIMIT_FSIZE", RLIMIT_FSIZE},
      {"RLIMIT_DATA", RLIMIT_DATA},
      {"RLIMIT_STACK", RLIMIT_STACK},
      {"RLIMIT_CORE", RLIMIT_CORE},
      {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_NPROC", RLIMIT_NPROC},
      {"RLIMIT_NOFILE", RLIMIT_NOFILE},
      {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
      {"RLIMIT_AS", RLIMIT_AS},
      {"RLIMIT_LOCKS", RLIMIT_LOCKS},
      {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
      {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
      {"RLIMIT_NICE", RLIMIT_NICE},
      {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
      {"RLIMIT_RTTIME", RLIMIT_RTTIME},
  }};
  for (const auto& [n, r] : kLimits) {
    if (n == name) return r;
  }
  return std::nullopt;
}

}  // namespace vmm::container
