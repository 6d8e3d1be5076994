#pragma once
// `vmm ctl --api-socket PATH COMMAND`: a small client of a running VM's API. It prints the
// answer's JSON body on stdout (nothing for 204) and exits 0 on success; an error answer is
// printed on stderr with exit 1, an unreachable socket exits 2.
#include <chrono>
#include <string>

#include "cli/agent_exec.hpp"

namespace vmm::cli {

// The commands and the request each sends.
//   ping -> GET vmm.ping, info -> GET vm.info, counters -> GET vm.counters,
//   pause / resume / shutdown -> PUT vm.pause / vm.resume / vm.shutdown
[[nodiscard]] int run_ctl(const std::string& socket_path, const std::string& command);

// `ctl exec`: the VM's vsock socket from vm.info, then the command through the guest agent;
// its exit status.
[[nodiscard]] int run_ctl_exec(const std::string& socket_path, const AgentExecOptions& options);
// `ctl wait-agent`: 0 once the guest agent answers, 124 when `timeout` passes first.
[[nodiscard]] int run_ctl_wait_agent(const std::string& socket_path,
                                     std::chrono::milliseconds timeout);

}  // namespace vmm::cli
