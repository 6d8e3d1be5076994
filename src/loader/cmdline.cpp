#include "loader/cmdline.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "vmm/common/error.hpp"
#include "vmm/memory/x86_64_layout.hpp"

namespace vmm::loader {

uint64_t cmdline_limit(uint64_t kernel_max) noexcept {
  // boot.rst: cmdline_size is the maximum length without the terminating zero.
  return std::min(kernel_max, x86_64::kCmdlineMaxSize - 1);
}

void write_cmdline(const GuestMemory& mem, std::string_view cmdline, uint64_t kernel_max) {
  const uint64_t limit = cmdline_limit(kernel_max);
  if (cmdline.size() > limit) {
    throw ConfigError(fmt::format("kernel command line is {} bytes, the kernel accepts at most {}",
                                  cmdline.size(), limit));
  }
  if (cmdline.find('\0') != std::string_view::npos) {
    throw ConfigError("kernel command line contains a NUL byte");
  }
  const GuestAddress at(x86_64::kCmdlineAddr);
  const auto area = mem.span(at, cmdline.size() + 1);
  if (!area) throw ConfigError("guest memory is too small for the kernel command line");
  std::copy(cmdline.begin(), cmdline.end(), area->begin());
  (*area)[cmdline.size()] = 0;
}

}  // namespace vmm::loader
