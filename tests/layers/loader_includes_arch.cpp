// Must not compile: the loader sits below the x86-64 boot code that uses it.
#include "arch/x86_64/linux_boot.hpp"
