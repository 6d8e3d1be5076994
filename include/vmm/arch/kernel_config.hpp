#pragma once
// What the guest kernel boots with, the same on every architecture; arch::load_kernel puts it
// into guest memory.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace vmm::arch {

struct KernelConfig {
  std::filesystem::path kernel;
  std::optional<std::filesystem::path> initrd;
  std::string cmdline;
  // Bytes appended to the initrd in guest memory, 4-byte aligned (vmm's own cpio archive, such
  // as the guest agent's). Without an initrd it is the whole initramfs.
  std::vector<uint8_t> initrd_appendix{};
};

}  // namespace vmm::arch
