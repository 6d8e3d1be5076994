#include "vmm/config/kernel_cmdline.hpp"

namespace vmm {

bool has_cmdline_word(std::string_view cmdline, std::string_view word, bool prefix) noexcept {
  size_t start = 0;
  while (start <= cmdline.size()) {
    size_t end = cmdline.find(' ', start);
    if (end == std::string_view::npos) end = cmdline.size();
    const std::string_view w = cmdline.substr(start, end - start);
    if (prefix ? w.starts_with(word) : w == word) return true;
    start = end + 1;
  }
  return false;
}

std::string append_cmdline(std::string cmdline, std::string_view extra) {
  if (extra.empty()) return cmdline;
  if (!cmdline.empty()) cmdline += ' ';
  cmdline += extra;
  return cmdline;
}

void add_root_default(VmConfig& config) {
  if (config.disks.empty() || has_cmdline_word(config.cmdline, "root=", true)) return;
  config.cmdline =
      append_cmdline(std::move(config.cmdline),
                     config.disks.front().read_only ? "root=/dev/vda ro" : "root=/dev/vda rw");
}

}  // namespace vmm
