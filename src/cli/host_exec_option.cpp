#include "cli/host_exec_option.hpp"

#include <algorithm>

#include "vmm/common/error.hpp"
#include "vmm/common/host_exec_layout.hpp"

namespace vmm::cli {

namespace fs = std::filesystem;

std::string guest_cwd(const fs::path& root, const fs::path& host_dir) {
  const std::string root_text = root.string();
  const std::string dir = host_dir.string();
  if (root_text == "/") return dir.starts_with('/') ? dir : "/";
  if (dir == root_text) return "/";
  if (dir.size() > root_text.size() && dir.starts_with(root_text) && dir[root_text.size()] == '/') {
    return dir.substr(root_text.size());
  }
  return "/";
}

HostExecConfig host_exec_config(const std::string& command,
                                const std::vector<ShareConfig>& shares) {
  if (command.empty()) throw ConfigError("exec", "the command is empty");
  const auto root = std::find_if(shares.begin(), shares.end(), [](const ShareConfig& share) {
    return share.tag == host_exec::kRootTag;
  });
  if (root == shares.end()) {
    throw ConfigError("exec",
                      "needs the guest's root as a share tagged root (--share "
                      "/,tag=root,readonly=on)");
  }
  std::error_code ec;
  const fs::path root_dir = fs::weakly_canonical(root->path, ec);
  const fs::path here = fs::current_path(ec);
  HostExecConfig config{.command = command};
  if (!root_dir.empty() && !here.empty()) config.cwd = guest_cwd(root_dir, here);
  return config;
}

}  // namespace vmm::cli
