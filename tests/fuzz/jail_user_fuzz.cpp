// Fuzzes the --jail-user parser: any input either gives non-root ids or throws ConfigError.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "jail/jail.hpp"
#include "vmm/common/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const vmm::jail::JailOptions options = vmm::jail::parse_jail_user(text);
    if (options.uid == 0 || options.gid == 0) std::abort();  // root must never come out
  } catch (const vmm::ConfigError&) {
  }
  return 0;
}
