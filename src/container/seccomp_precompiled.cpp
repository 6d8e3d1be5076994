// The default profile's program, compiled by libseccomp at build time (seccomp_gen/main.cpp
// writes default_seccomp_bpf.inc), so that a container start does not pay for it. Any other
// profile is compiled when it is loaded.
#include "container/seccomp_filter.hpp"

namespace vmm::container {
namespace {

constexpr sock_filter kDefaultProgram[] = {
#include "default_seccomp_bpf.inc"
};

}  // namespace

std::span<const sock_filter> precompiled_default_seccomp() { return kDefaultProgram; }

void load_seccomp(const Seccomp& profile) {
  if (profile == default_seccomp_profile()) {
    load_seccomp_program(precompiled_default_seccomp());
    return;
  }
  load_seccomp_program(compile_seccomp(profile));
}

}  // namespace vmm::container
