#include "farm/farm_file.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <span>
#include <sstream>

#include "vmm/common/error.hpp"
#include "vmm/common/size.hpp"

namespace vmm::farm {
namespace {

constexpr int64_t kMaxCpus = 254;  // vmm run's limit
constexpr double kMaxTimeoutSeconds = 7.0 * 24 * 3600;
constexpr std::size_t kMaxNameLength = 128;

// Where a key sits, for messages: "farm.toml: job 'boot'" or "farm.toml: defaults".
class Place {
 public:
  Place(const std::string& source, const std::string& table) : prefix_(source + ": " + table) {}
  [[noreturn]] void fail(const std::string& key, const std::string& problem) const {
    throw ConfigError(prefix_ + ": " + key + ": " + problem);
  }
  [[noreturn]] void fail(const std::string& problem) const {
    throw ConfigError(prefix_ + ": " + problem);
  }

 private:
  std::string prefix_;
};

std::string string_value(const toml::node& node, const Place& at, const std::string& key) {
  const auto* s = node.as_string();
  if (s == nullptr) at.fail(key, "expected a string");
  return s->get();
}

std::string path_value(const toml::node& node, const Place& at, const std::string& key) {
  auto text = string_value(node, at, key);
  if (text.empty()) at.fail(key, "expected a non-empty string");
  return text;
}

std::vector<std::string> string_list(const toml::node& node, const Place& at,
                                     const std::string& key) {
  const auto* array = node.as_array();
  if (array == nullptr) at.fail(key, "expected a list of strings");
  std::vector<std::string> out;
  for (const auto& element : *array) {
    const auto* s = element.as_string();
    if (s == nullptr) at.fail(key, "expected a list of strings");
    out.push_back(s->get());
  }
  return out;
}

int64_t integer_in(const toml::node& node, const Place& at, const std::string& key, int64_t low,
                   int64_t high, const char* what) {
  const auto* i = node.as_integer();
  if (i == nullptr || i->get() < low || i->get() > high) at.fail(key, what);
  return i->get();
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxNameLength || name.front() == '.') return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

constexpr const char* kVmOnly[] = {"kernel", "initrd", "cmdline", "disks", "shares"};
constexpr const char* kContainerOnly[] = {"rootfs", "command"};

// Applies the keys of one table onto `spec`; returns the keys it set.
std::set<std::string> apply(const toml::table& table, JobSpec& spec, const Place& at,
                            bool is_defaults) {
  std::set<std::string> seen;
  for (const auto& [key_view, node] : table) {
    const std::string key(key_view.str());
    seen.insert(key);
    if (key == "name") {
      if (is_defaults) at.fail(key, "each job names itself; not a default");
      spec.name = string_value(node, at, key);
    } else if (key == "kind") {
      const auto kind = string_value(node, at, key);
      if (kind == "vm") {
        spec.kind = JobKind::kVm;
      } else if (kind == "container") {
        spec.kind = JobKind::kContainer;
      } else {
        at.fail(key, "expected \"vm\" or \"container\", not \"" + kind + "\"");
      }
    } else if (key == "kernel") {
      spec.kernel = path_value(node, at, key);
    } else if (key == "initrd") {
      spec.initrd = path_value(node, at, key);
    } else if (key == "cmdline") {
      spec.cmdline = string_value(node, at, key);
    } else if (key == "disks") {
      spec.disks = string_list(node, at, key);
    } else if (key == "shares") {
      spec.shares = string_list(node, at, key);
    } else if (key == "rootfs") {
      spec.rootfs = path_value(node, at, key);
    } else if (key == "command") {
      if (node.is_string()) {
        spec.command = {"/bin/sh", "-c", string_value(node, at, key)};
      } else {
        spec.command = string_list(node, at, key);
        if (spec.command.empty()) at.fail(key, "expected a command (a string or a list)");
      }
    } else if (key == "cpus") {
      spec.cpus = static_cast<unsigned>(
          integer_in(node, at, key, 1, kMaxCpus, "expected an integer from 1 to 254"));
    } else if (key == "memory") {
      std::string text;
      if (const auto* i = node.as_integer(); i != nullptr) {
        text = std::to_string(i->get());  // a bare number is MiB, as vmm run reads it
      } else {
        text = string_value(node, at, key);
      }
      const auto bytes = parse_size(text);
      if (!bytes || *bytes < (4ULL << 20)) {
        at.fail(key, "expected a size of at least 4M such as \"256M\" or \"1G\"");
      }
      spec.memory = text;
      spec.memory_bytes = *bytes;
    } else if (key == "timeout") {
      const auto seconds = node.value<double>();  // integers too
      if (!seconds || !(*seconds > 0) || *seconds > kMaxTimeoutSeconds) {
        at.fail(key, "expected seconds, more than 0 and at most a week");
      }
      spec.timeout_seconds = *seconds;
    } else if (key == "expect_exit") {
      spec.expect_exit =
          static_cast<int>(integer_in(node, at, key, 0, 255, "expected an exit status, 0 to 255"));
    } else if (key == "ktap") {
      const auto* b = node.as_boolean();
      if (b == nullptr) at.fail(key, "expected true or false");
      spec.ktap = b->get();
    } else {
      at.fail(key, "unknown key");
    }
  }
  return seen;
}

void check_job(const JobSpec& spec, const std::set<std::string>& own, const Place& at) {
  const bool vm = spec.kind == JobKind::kVm;
  // A key of the other kind in the job's own table is a mistake; from [defaults] it is not,
  // since defaults serve both kinds.
  const std::span<const char* const> others =
      vm ? std::span<const char* const>(kContainerOnly) : std::span<const char* const>(kVmOnly);
  for (const char* key : others) {
    if (own.contains(key)) {
      at.fail(key, std::string("not a key of ") + (vm ? "vm" : "container") + " jobs");
    }
  }
  if (vm && spec.kernel.empty()) at.fail("kernel", "required for a vm job");
  if (!vm && spec.rootfs.empty()) at.fail("rootfs", "required for a container job");
  if (!vm && spec.command.empty()) at.fail("command", "required for a container job");
}

}  // namespace

std::vector<JobSpec> parse_farm_file(std::string_view text, const std::string& source) {
  toml::table doc;
  try {
    doc = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << source << ":" << e.source().begin.line << ":" << e.source().begin.column
          << ": invalid TOML: " << e.description();
    std::string line = where.str();
    std::replace(line.begin(), line.end(), '\n', ' ');  // one line, whatever the parser says
    throw ConfigError(line);
  }
  JobSpec defaults;
  const toml::array* jobs = nullptr;
  for (const auto& [key_view, node] : doc) {
    const std::string key(key_view.str());
    if (key == "defaults") {
      const auto* table = node.as_table();
      if (table == nullptr) throw ConfigError(source + ": defaults: expected a table");
      (void)apply(*table, defaults, Place(source, "defaults"), true);
    } else if (key == "job") {
      jobs = node.as_array();
      if (jobs == nullptr || !jobs->is_array_of_tables()) {
        throw ConfigError(source + ": job: expected [[job]] tables");
      }
    } else {
      std::string message = source;
      message += ": " + key + ": unknown key (a farm file has [defaults] and [[job]] tables)";
      throw ConfigError(message);
    }
  }
  if (jobs == nullptr || jobs->empty()) throw ConfigError(source + ": no [[job]] tables");

  std::vector<JobSpec> out;
  std::set<std::string> names;
  std::size_t index = 0;
  for (const auto& node : *jobs) {
    ++index;
    const auto& table = *node.as_table();
    // Until the job's name is known, it is named by its position.
    std::string label = "job #" + std::to_string(index);
    if (const auto* name = table.get_as<std::string>("name"); name != nullptr) {
      label = "job '" + name->get() + "'";
    }
    const Place at(source, label);
    JobSpec spec = defaults;
    const auto own = apply(table, spec, at, false);
    if (spec.name.empty()) at.fail("name", "required");
    if (!valid_name(spec.name)) {
      at.fail("name", "use letters, digits, '.', '_' and '-' (at most 128, not starting with '.')");
    }
    if (!names.insert(spec.name).second) at.fail("name", "another job has this name");
    check_job(spec, own, at);
    out.push_back(std::move(spec));
  }
  return out;
}

std::vector<JobSpec> load_farm_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path.string() + ": cannot read the farm file");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_farm_file(text.str(), path.string());
}

}  // namespace vmm::farm
