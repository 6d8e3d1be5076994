#pragma once
// Init-wrapper mode: the agent started as PID 1 from vmm's initramfs fragment
// (rdinit=/vmm/vmm-agent) puts itself in the background and gives PID 1 to the initramfs's
// own init.
#include <array>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vmm::agent {

// The inits tried in turn, as the kernel would have started them.
inline constexpr std::array<std::string_view, 2> kInitCandidates{"/init", "/sbin/init"};

// Forks `agent` into its own session (it must not return); the caller continues. Returns
// false when fork failed (the caller goes on without the agent).
bool start_in_background(const std::function<void()>& agent);

// Executes the first of `candidates` that runs, with `args` (args[0] is replaced by its
// path), printing a clear line on stderr for each that fails; exits 1 when none runs.
[[noreturn]] void hand_over_to_init(const std::vector<std::string>& args,
                                    std::span<const std::string_view> candidates);

}  // namespace vmm::agent
