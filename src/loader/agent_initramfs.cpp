#include "loader/agent_initramfs.hpp"

#include "loader/cpio_archive.hpp"

namespace vmm::loader {

std::vector<uint8_t> agent_initramfs(std::span<const uint8_t> agent) {
  CpioArchive archive;
  archive.add_directory("vmm", 0755);
  archive.add_file(kAgentInitramfsPath.substr(1), agent, 0755);
  return std::move(archive).finish();
}

}  // namespace vmm::loader
