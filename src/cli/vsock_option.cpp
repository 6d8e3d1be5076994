#include "cli/vsock_option.hpp"

#include <charconv>
#include <optional>
#include <string>

#include "cli/option_list.hpp"
#include "vmm/common/error.hpp"

namespace vmm::cli {
namespace {

[[noreturn]] void bad(const std::string& what) { throw ConfigError("--vsock: " + what); }

uint64_t parse_cid(std::string_view text) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  // Decimal, or hexadecimal with 0x as vsock(7) tools print CIDs.
  const bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  const char* begin = hex ? text.data() + 2 : text.data();
  const auto [stop, ec] = std::from_chars(begin, end, value, hex ? 16 : 10);
  if (text.empty() || ec != std::errc{} || stop != end) {
    bad("cid=" + std::string(text) + " is not a number");
  }
  return value;
}

}  // namespace

VsockConfig parse_vsock_option(std::string_view spec) {
  VsockConfig vsock;
  std::optional<uint64_t> cid;
  std::optional<std::string> socket;
  for (const std::string_view part : split_option_list(spec)) {
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos) {
      bad(part.empty() ? std::string("empty option (cid=N,socket=PATH)")
                       : "'" + std::string(part) + "' is not KEY=VALUE (cid=N,socket=PATH)");
    }
    const std::string_view key = part.substr(0, eq);
    const std::string_view value = part.substr(eq + 1);
    if (key == "cid") {
      if (cid) bad("cid= given twice");
      cid = parse_cid(value);
      if (const std::string problem = vsock_cid_problem(*cid); !problem.empty()) {
        bad("cid=" + std::string(value) + ": " + problem);
      }
    } else if (key == "socket") {
      if (socket) bad("socket= given twice");
      socket = std::string(value);
      if (const std::string problem = vsock_socket_problem(*socket); !problem.empty()) {
        bad("socket=" + std::string(value) + ": " + problem);
      }
    } else {
      bad("unknown option '" + std::string(key) + "' (cid, socket)");
    }
  }
  if (!cid) bad("cid=N is required");
  if (!socket) bad("socket=PATH is required");
  vsock.cid = static_cast<uint32_t>(*cid);
  vsock.socket = *socket;
  return vsock;
}

}  // namespace vmm::cli
