#pragma once
// `vmm ctl --api-socket PATH COMMAND`: a small client of a running VM's API. It prints the
// answer's JSON body on stdout (nothing for 204) and exits 0 on success; an error answer is
// printed on stderr with exit 1, an unreachable socket exits 2.
#include <string>

namespace vmm::cli {

// The commands and the request each sends.
//   ping -> GET vmm.ping, info -> GET vm.info, counters -> GET vm.counters,
//   pause / resume / shutdown -> PUT vm.pause / vm.resume / vm.shutdown
[[nodiscard]] int run_ctl(const std::string& socket_path, const std::string& command);

}  // namespace vmm::cli
