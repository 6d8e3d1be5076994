// Fuzzes the --net option parser: any input either parses or throws ConfigError.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cli/net_option.hpp"
#include "vmm/common/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    (void)vmm::cli::parse_net_option(text);
  } catch (const vmm::ConfigError&) {
  }
  return 0;
}
