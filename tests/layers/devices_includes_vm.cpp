// Must not compile: the devices layer sits below the VM and cannot see its headers.
#include "vmm/vm.hpp"
