// Must not compile: the arm64 boot code stands beside the x86-64 one and shares nothing with it.
#include "arch/x86_64/boot_params.hpp"
