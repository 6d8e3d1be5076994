#include "farm/job_command.hpp"

namespace vmm::farm {

std::vector<std::string> job_command(const JobSpec& spec, const std::filesystem::path& vmm) {
  std::vector<std::string> argv{vmm.string()};
  auto add = [&](const char* flag, const std::string& value) {
    argv.emplace_back(flag);
    argv.push_back(value);
  };
  if (spec.kind == JobKind::kVm) {
    argv.emplace_back("run");
    add("--kernel", spec.kernel);
    if (!spec.initrd.empty()) add("--initrd", spec.initrd);
    if (!spec.cmdline.empty()) add("--cmdline", spec.cmdline);
    for (const auto& disk : spec.disks) add("--disk", disk);
    for (const auto& share : spec.shares) add("--share", share);
    if (spec.cpus) add("--cpus", std::to_string(*spec.cpus));
    if (spec.memory) add("--memory", *spec.memory);
    return argv;
  }
  argv.emplace_back("container");
  argv.emplace_back("run");
  add("--rootfs", spec.rootfs);
  if (spec.cpus) add("--cpus", std::to_string(*spec.cpus));
  if (spec.memory) add("--memory", *spec.memory);
  argv.emplace_back("--");
  argv.insert(argv.end(), spec.command.begin(), spec.command.end());
  return argv;
}

}  // namespace vmm::farm
