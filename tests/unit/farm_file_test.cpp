// Farm files (TOML): defaults under jobs, and one clear line for every mistake, naming the
// job and the key.
#include "farm/farm_file.hpp"

#include <gtest/gtest.h>

#include <string>

#include "vmm/common/error.hpp"

namespace {

using vmm::farm::JobKind;
using vmm::farm::parse_farm_file;

std::string error_of(const std::string& text) {
  try {
    (void)parse_farm_file(text, "farm.toml");
  } catch (const vmm::ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

constexpr const char* kTwoJobs = R"(
[defaults]
kind = "vm"
kernel = "bzImage"
initrd = "initrd.cpio.gz"
cpus = 2
memory = "256M"
timeout = 30
disks = ["root.img,readonly=on"]

[[job]]
name = "boot"
cmdline = "console=ttyS0 vmmtest=poweroff"
shares = ["tag=data,path=/srv"]

[[job]]
name = "box"
kind = "container"
rootfs = "root"
command = "echo hi; exit 3"
expect_exit = 3
memory = 64
cpus = 1
ktap = true
timeout = 2.5
)";

TEST(FarmFile, JobsTakeTheDefaultsAndOverrideThem) {
  const auto jobs = parse_farm_file(kTwoJobs, "farm.toml");
  ASSERT_EQ(jobs.size(), 2U);
  const auto& vm = jobs[0];
  EXPECT_EQ(vm.name, "boot");
  EXPECT_EQ(vm.kind, JobKind::kVm);
  EXPECT_EQ(vm.kernel, "bzImage");
  EXPECT_EQ(vm.initrd, "initrd.cpio.gz");
  EXPECT_EQ(vm.cmdline, "console=ttyS0 vmmtest=poweroff");
  EXPECT_EQ(vm.disks, std::vector<std::string>{"root.img,readonly=on"});
  EXPECT_EQ(vm.shares, std::vector<std::string>{"tag=data,path=/srv"});
  EXPECT_EQ(vm.cpus, 2U);
  EXPECT_EQ(vm.memory, "256M");
  EXPECT_EQ(vm.memory_bytes, 256ULL << 20);
  EXPECT_EQ(vm.timeout_seconds, 30.0);
  EXPECT_EQ(vm.expect_exit, 0);
  EXPECT_FALSE(vm.ktap);

  const auto& box = jobs[1];
  EXPECT_EQ(box.kind, JobKind::kContainer);
  EXPECT_EQ(box.rootfs, "root");
  EXPECT_EQ(box.command, (std::vector<std::string>{"/bin/sh", "-c", "echo hi; exit 3"}));
  EXPECT_EQ(box.expect_exit, 3);
  EXPECT_EQ(box.memory, "64");  // a bare number is MiB, as vmm reads it
  EXPECT_EQ(box.memory_bytes, 64ULL << 20);
  EXPECT_EQ(box.cpus, 1U);
  EXPECT_TRUE(box.ktap);
  EXPECT_EQ(box.timeout_seconds, 2.5);
}

TEST(FarmFile, CommandAsAList) {
  const auto jobs = parse_farm_file(
      "[[job]]\nname='a'\nkind='container'\nrootfs='r'\ncommand=['/bin/true', 'x y']\n", "f");
  ASSERT_EQ(jobs.size(), 1U);
  EXPECT_EQ(jobs[0].command, (std::vector<std::string>{"/bin/true", "x y"}));
  EXPECT_FALSE(jobs[0].cpus.has_value());
  EXPECT_FALSE(jobs[0].timeout_seconds.has_value());
}

TEST(FarmFile, ErrorsNameTheJobAndTheKey) {
  const std::string vm = "[[job]]\nname = 'j1'\nkernel = 'k'\n";
  EXPECT_EQ(error_of(vm + "colour = 'red'\n"), "farm.toml: job 'j1': colour: unknown key");
  EXPECT_EQ(error_of(vm + "cpus = 0\n"),
            "farm.toml: job 'j1': cpus: expected an integer from 1 to 254");
  EXPECT_EQ(error_of(vm + "cpus = '2'\n"),
            "farm.toml: job 'j1': cpus: expected an integer from 1 to 254");
  EXPECT_EQ(error_of(vm + "memory = 'lots'\n"),
            "farm.toml: job 'j1': memory: expected a size of at least 4M such as \"256M\" or "
            "\"1G\"");
  EXPECT_EQ(error_of(vm + "timeout = -1\n"),
            "farm.toml: job 'j1': timeout: expected seconds, more than 0 and at most a week");
  EXPECT_EQ(error_of(vm + "expect_exit = 256\n"),
            "farm.toml: job 'j1': expect_exit: expected an exit status, 0 to 255");
  EXPECT_EQ(error_of(vm + "ktap = 'yes'\n"), "farm.toml: job 'j1': ktap: expected true or false");
  EXPECT_EQ(error_of(vm + "kind = 'pod'\n"),
            "farm.toml: job 'j1': kind: expected \"vm\" or \"container\", not \"pod\"");
  EXPECT_EQ(error_of(vm + "disks = 'a.img'\n"),
            "farm.toml: job 'j1': disks: expected a list of strings");
  EXPECT_EQ(error_of(vm + "rootfs = '/r'\n"), "farm.toml: job 'j1': rootfs: not a key of vm jobs");
  EXPECT_EQ(error_of("[[job]]\nname = 'c'\nkind = 'container'\nrootfs = 'r'\n"),
            "farm.toml: job 'c': command: required for a container job");
  EXPECT_EQ(error_of("[[job]]\nname = 'v'\n"), "farm.toml: job 'v': kernel: required for a vm job");
  EXPECT_EQ(error_of("[[job]]\nkernel = 'k'\n"), "farm.toml: job #1: name: required");
  EXPECT_EQ(error_of(vm + vm), "farm.toml: job 'j1': name: another job has this name");
  EXPECT_EQ(error_of("[[job]]\nname = '../x'\nkernel = 'k'\n"),
            "farm.toml: job '../x': name: use letters, digits, '.', '_' and '-' (at most 128, "
            "not starting with '.')");
}

TEST(FarmFile, ErrorsInTheDefaultsAndTheDocument) {
  EXPECT_EQ(error_of("[defaults]\nname = 'x'\n[[job]]\nname='a'\nkernel='k'\n"),
            "farm.toml: defaults: name: each job names itself; not a default");
  EXPECT_EQ(error_of("[defaults]\ncpus = 1.5\n[[job]]\nname='a'\nkernel='k'\n"),
            "farm.toml: defaults: cpus: expected an integer from 1 to 254");
  EXPECT_EQ(error_of("[jobs]\n"),
            "farm.toml: jobs: unknown key (a farm file has [defaults] and [[job]] tables)");
  EXPECT_EQ(error_of("[defaults]\n"), "farm.toml: no [[job]] tables");
  EXPECT_EQ(error_of("job = 3\n"), "farm.toml: job: expected [[job]] tables");
  const auto syntax = error_of("[[job]]\nname = \n");
  EXPECT_EQ(syntax.rfind("farm.toml:2:", 0), 0U) << syntax;
  EXPECT_NE(syntax.find("invalid TOML"), std::string::npos) << syntax;
  EXPECT_EQ(syntax.find('\n'), std::string::npos) << syntax;
}

TEST(FarmFile, DefaultsOfTheOtherKindAreNotErrors) {
  // A [defaults] kernel serves the VM jobs; a container job beside them is fine.
  const auto jobs = parse_farm_file(
      "[defaults]\nkernel = 'k'\n[[job]]\nname='v'\n[[job]]\nname='c'\nkind='container'\n"
      "rootfs='r'\ncommand='true'\n",
      "f");
  ASSERT_EQ(jobs.size(), 2U);
  EXPECT_EQ(jobs[1].kind, JobKind::kContainer);
}

}  // namespace
