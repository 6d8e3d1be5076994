// Must not compile: the arm64 boot structures are pure data, built on hosts of any architecture.
#include "vmm/kvm/vm_fd.hpp"
