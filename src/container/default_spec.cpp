#include "container/default_spec.hpp"

#include <sched.h>
#include <sys/resource.h>

#include <cctype>
#include <limits>
#include <nlohmann/json.hpp>

#include "container/process_setup.hpp"
#include "container/rootfs_setup.hpp"
#include "vmm/common/error.hpp"

namespace vmm::container {

Spec default_spec(bool rootless) {
  Spec s;
  s.oci_version = "1.2.0";
  s.process.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  s.process.capabilities.bounding = default_capabilities();
  s.process.capabilities.effective = default_capabilities();
  s.process.capabilities.permitted = default_capabilities();
  s.process.rlimits = {{RLIMIT_NOFILE, 1024, 1024}};
  s.process.no_new_privileges = true;
  s.mounts = default_mounts(rootless);
  for (int t :
       {CLONE_NEWPID, CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWCGROUP}) {
    s.linux_config.namespaces.push_back({t, {}});
  }
  if (rootless) s.linux_config.namespaces.push_back({CLONE_NEWUSER, {}});
  s.linux_config.masked_paths = default_masked_paths();
  s.linux_config.readonly_paths = default_readonly_paths();
  return s;
}

uint64_t parse_size(const std::string& text, const std::string& flag) {
  size_t pos = 0;
  uint64_t value = 0;
  try {
    if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])))
      throw std::invalid_argument(text);
    value = std::stoull(text, &pos);
  } catch (const std::exception&) {
    throw ConfigError(flag + ": '" + text + "' is not a size (e.g. 512M)");
  }
  const std::string unit = text.substr(pos);
  int shift = 0;
  if (unit.empty() || unit == "b" || unit == "B")
    shift = 0;
  else if (unit == "k" || unit == "K" || unit == "KiB")
    shift = 10;
  else if (unit == "m" || unit == "M" || unit == "MiB")
    shift = 20;
  else if (unit == "g" || unit == "G" || unit == "GiB")
    shift = 30;
  else
    throw ConfigError(flag + ": unknown unit in '" + text + "'");
  if (value == 0 || value > (std::numeric_limits<uint64_t>::max() >> (shift + 1))) {
    throw ConfigError(flag + ": '" + text + "' is out of range");
  }
  return value << shift;
}

void parse_user(const std::string& text, User& user) {
  const auto colon = text.find(':');
  const auto num = [&](const std::string& s) -> uint32_t {
    if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos || s.size() > 10) {
      throw ConfigError("--user: '" + text + "' is not UID[:GID]");
    }
    const uint64_t v = std::stoull(s);
    if (v > std::numeric_limits<uint32_t>::max() - 1) throw ConfigError("--user: id out of range");
    return static_cast<uint32_t>(v);
  };
  user.uid = num(text.substr(0, colon));
  user.gid = colon == std::string::npos ? user.uid : num(text.substr(colon + 1));
}

std::string spec_template_json(bool rootless) {
  using nlohmann::json;
  const json caps = json::array({"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"});
  json mounts = json::array();
  for (const auto& m : default_mounts(rootless)) {
    mounts.push_back({{"destination", m.destination},
                      {"type", m.type},
                      {"source", m.source},
                      {"options", m.options}});
  }
  json namespaces = json::array({{{"type", "pid"}},
                                 {{"type", "network"}},
                                 {{"type", "ipc"}},
                                 {{"type", "uts"}},
                                 {{"type", "mount"}},
                                 {{"type", "cgroup"}}});
  json doc = {
      {"ociVersion", "1.2.0"},
      {"process",
       {{"terminal", true},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", {"sh"}},
        {"env",
         {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
        {"cwd", "/"},
        {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
        {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
        {"noNewPrivileges", true}}},
      {"root", {{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "vmm"},
      {"mounts", mounts},
      {"linux",
       {{"resources", {{"devices", {{{"allow", false}, {"access", "rwm"}}}}}},
        {"namespaces", namespaces},
        {"maskedPaths", default_masked_paths()},
        {"readonlyPaths", default_readonly_paths()}}},
  };
  if (rootless) {
    doc["linux"]["namespaces"].push_back({{"type", "user"}});
    doc["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 0}, {"size", 1}}};
    doc["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 0}, {"size", 1}}};
    doc["linux"].erase("resources");
  }
  return doc.dump(2) + "\n";
}

}  // namespace vmm::container
