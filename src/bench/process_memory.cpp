#include "bench/process_memory.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace fs = std::filesystem;

namespace vmm::bench {
namespace {

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// "Name:   123 kB" -> 123 when the line starts with `key`.
std::optional<uint64_t> kb_field(const std::string& line, const char* key) {
  if (line.rfind(key, 0) != 0) return std::nullopt;
  std::istringstream in(line.substr(std::string(key).size()));
  uint64_t value = 0;
  if (!(in >> value)) return std::nullopt;
  return value;
}

// The memory cgroup path of a process: the v1 memory hierarchy's, else the v2 one.
std::optional<std::string> memory_cgroup(pid_t pid) {
  std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/cgroup"));
  std::string line;
  std::optional<std::string> v2;
  while (std::getline(in, line)) {
    const auto a = line.find(':');
    const auto b = line.find(':', a == std::string::npos ? 0 : a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    const std::string path = line.substr(b + 1);
    if (controllers == "memory" || controllers.find("memory,") != std::string::npos ||
        controllers.find(",memory") != std::string::npos) {
      return "v1:" + path;
    }
    if (controllers.empty() && line.rfind("0::", 0) == 0) v2 = "v2:" + path;
  }
  return v2;
}

}  // namespace

VmMemory parse_vm_smaps(const std::string& smaps, uint64_t guest_kib) {
  VmMemory m;
  std::istringstream in(smaps);
  std::string line;
  bool guest = false;
  uint64_t pss = 0;
  uint64_t guest_pss = 0;
  uint64_t guest_rss = 0;
  uint64_t rss = 0;
  while (std::getline(in, line)) {
    if (auto size = kb_field(line, "Size:")) {
      guest = *size == guest_kib;
    } else if (auto r = kb_field(line, "Rss:")) {
      rss += *r;
      if (guest) guest_rss += *r;
    } else if (auto p = kb_field(line, "Pss:")) {
      pss += *p;
      if (guest) guest_pss += *p;
    }
  }
  m.pss_mib = static_cast<double>(pss) / 1024.0;
  m.guest_touched_mib = static_cast<double>(guest_rss) / 1024.0;
  m.overhead_mib = static_cast<double>(pss - guest_pss) / 1024.0;
  m.overhead_rss_mib = static_cast<double>(rss - guest_rss) / 1024.0;
  return m;
}

std::optional<VmMemory> vm_memory(pid_t pid, uint64_t guest_kib) {
  const auto text = read_file("/proc/" + std::to_string(pid) + "/smaps");
  if (text.empty()) return std::nullopt;
  return parse_vm_smaps(text, guest_kib);
}

std::vector<pid_t> process_tree(pid_t pid) {
  std::multimap<pid_t, pid_t> children;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const auto name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto stat = read_file(entry.path() / "stat");
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream in(stat.substr(close + 1));
    std::string state;
    pid_t ppid = 0;
    if (in >> state >> ppid) children.emplace(ppid, static_cast<pid_t>(std::stol(name)));
  }
  std::vector<pid_t> tree{pid};
  for (std::size_t i = 0; i < tree.size(); ++i) {
    auto [first, last] = children.equal_range(tree[i]);
    for (auto it = first; it != last; ++it) tree.push_back(it->second);
  }
  return tree;
}

double pss_mib(const std::vector<pid_t>& pids) {
  uint64_t total = 0;
  for (pid_t pid : pids) {
    std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/smaps_rollup"));
    std::string line;
    while (std::getline(in, line)) {
      if (auto pss = kb_field(line, "Pss:")) total += *pss;
    }
  }
  return static_cast<double>(total) / 1024.0;
}

std::optional<double> container_cgroup_mib(const std::vector<pid_t>& pids) {
  const auto own = memory_cgroup(::getpid());
  for (pid_t pid : pids) {
    const auto cg = memory_cgroup(pid);
    if (!cg || cg == own) continue;
    const std::string path = cg->substr(3);
    const fs::path file = cg->rfind("v1:", 0) == 0
                              ? fs::path("/sys/fs/cgroup/memory" + path) / "memory.usage_in_bytes"
                              : fs::path("/sys/fs/cgroup" + path) / "memory.current";
    std::istringstream in(read_file(file));
    uint64_t bytes = 0;
    if (in >> bytes) return static_cast<double>(bytes) / (1024.0 * 1024.0);
  }
  return std::nullopt;
}

}  // namespace vmm::bench
