// Fuzzes the --vsock option parser: any input either parses into a valid CID and socket path
// or throws ConfigError.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cli/vsock_option.hpp"
#include "vmm/common/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const vmm::VsockConfig c = vmm::cli::parse_vsock_option(text);
    if (c.cid < vmm::kVsockMinGuestCid || c.cid > vmm::kVsockMaxGuestCid || c.socket.empty()) {
      std::abort();
    }
  } catch (const vmm::ConfigError&) {
  }
  return 0;
}
