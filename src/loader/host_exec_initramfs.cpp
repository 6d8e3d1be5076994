#include "loader/host_exec_initramfs.hpp"

#include <string>

#include "loader/cpio_archive.hpp"
#include "vmm/common/error.hpp"
#include "vmm/common/host_exec_layout.hpp"

namespace vmm::loader {
namespace {

std::span<const uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// Archive names carry no leading '/'.
std::string_view relative(std::string_view path) { return path.substr(1); }

}  // namespace

std::vector<uint8_t> host_exec_initramfs(std::span<const uint8_t> init,
                                         std::span<const GuestModule> modules,
                                         std::string_view command, std::string_view cwd) {
  if (command.find('\0') != std::string_view::npos) {
    throw ConfigError("exec", "the command has a NUL byte");
  }
  if (cwd.find('\0') != std::string_view::npos) throw Error("the working directory has a NUL");
  CpioArchive archive;
  for (const auto dir : {"dev", "proc", "sys", "vmm", "vmm/exec", "vmm/modules", "vmm/lower",
                         "vmm/rw", "vmm/root"}) {
    archive.add_directory(dir, 0755);
  }
  archive.add_file(relative(host_exec::kInitPath), init, 0755);
  std::string order;
  for (const auto& module : modules) {
    archive.add_file(std::string(relative(host_exec::kModulesDir)) + "/" + module.file_name,
                     module.bytes, 0644);
    order += module.file_name + "\n";
  }
  archive.add_file(relative(host_exec::kModuleOrderFile), bytes_of(order), 0644);
  archive.add_file(relative(host_exec::kCommandFile), bytes_of(command), 0644);
  archive.add_file(relative(host_exec::kCwdFile), bytes_of(cwd), 0644);
  return std::move(archive).finish();
}

}  // namespace vmm::loader
