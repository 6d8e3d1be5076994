#include "cli/share_option.hpp"

#include <optional>
#include <string>

#include "cli/option_list.hpp"
#include "vmm/common/error.hpp"

namespace vmm::cli {
namespace {

[[noreturn]] void bad(const std::string& what) { throw ConfigError("--share: " + what); }

bool parse_bool(std::string_view key, std::string_view value) {
  if (value == "on" || value == "true" || value == "yes" || value == "1") return true;
  if (value == "off" || value == "false" || value == "no" || value == "0") return false;
  bad(std::string(key) + "=" + std::string(value) + " is not on or off");
}

}  // namespace

ShareConfig parse_share_option(std::string_view spec) {
  ShareConfig share;
  std::optional<std::string> tag;
  bool first = true;
  for (const std::string_view part : split_option_list(spec)) {
    if (first) {
      if (part.empty()) bad("missing directory (PATH,tag=NAME)");
      share.path = std::string(part);
      first = false;
      continue;
    }
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      bad("'" + std::string(part) + "' is not KEY=VALUE (PATH,tag=NAME[,readonly=on])");
    }
    const std::string_view key = part.substr(0, eq);
    const std::string_view value = part.substr(eq + 1);
    if (key == "tag") {
      if (tag) bad("tag= given twice");
      tag = std::string(value);
      if (const std::string problem = share_tag_problem(*tag); !problem.empty()) {
        bad("tag=" + *tag + ": " + problem);
      }
    } else if (key == "readonly" || key == "ro") {
      share.read_only = parse_bool(key, value);
    } else {
      bad("unknown option '" + std::string(key) + "' (tag, readonly)");
    }
  }
  if (!tag) bad("tag=NAME is required (the name the guest mounts: mount -t 9p NAME /mnt)");
  share.tag = *tag;
  if (const std::string problem = share_path_problem(share.path); !problem.empty()) {
    bad(share.path.string() + ": " + problem);
  }
  return share;
}

}  // namespace vmm::cli
