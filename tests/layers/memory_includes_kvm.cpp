// Must not compile: memory and KVM are siblings on top of common; neither sees the other.
#include "vmm/kvm/vm_fd.hpp"
