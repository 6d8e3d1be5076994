// Must compile: the devices layer sees its own headers and those of the layers below it.
#include "devices/pci/pci_root.hpp"
#include "vmm/bus/bus.hpp"
#include "vmm/common/error.hpp"
#include "vmm/memory/guest_memory.hpp"
