#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vector>

#include "container/sealed_exe.hpp"
#include "vmm/common/unique_fd.hpp"

namespace vmm::container {
namespace {

bool needs(std::vector<const char*> argv) {
  return command_needs_sealed_copy(static_cast<int>(argv.size()), argv.data());
}

TEST(ContainerSealedExe, ContainerCommandsNeedTheSealedCopy) {
  EXPECT_TRUE(needs({"vmm", "container", "run", "--rootfs", "r", "--", "/bin/true"}));
  EXPECT_TRUE(needs({"/usr/bin/vmm", "oci", "run", "--bundle", "b", "id"}));
  EXPECT_TRUE(needs({"vmm", "oci", "--root", "/run/x", "--log", "run", "create", "id"}));
  EXPECT_TRUE(needs({"vmm", "oci", "--debug", "--log-format", "json", "exec", "id", "sh"}));
  EXPECT_TRUE(needs({"/usr/local/bin/runc", "--root", "/s", "create", "--bundle", "b", "id"}));
  EXPECT_TRUE(needs({"vmm-runc", "exec", "id", "ls"}));
}

TEST(ContainerSealedExe, OtherCommandsDoNot) {
  EXPECT_FALSE(needs({"vmm"}));
  EXPECT_FALSE(needs({"vmm", "run", "--kernel", "k"}));
  EXPECT_FALSE(needs({"vmm", "container"}));
  EXPECT_FALSE(needs({"vmm", "oci", "--root", "run", "state", "id"}));
  EXPECT_FALSE(needs({"vmm", "oci", "delete", "run"}));
  EXPECT_FALSE(needs({"runc", "list"}));
  EXPECT_FALSE(needs({"vmm", "list"}));
  EXPECT_FALSE(command_needs_sealed_copy(0, nullptr));
}

TEST(ContainerSealedExe, OnlyAFullySealedCopyCounts) {
  UniqueFd fd(::memfd_create("sealed-test", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  ASSERT_TRUE(fd);
  ASSERT_EQ(::write(fd.get(), "x", 1), 1);
  EXPECT_FALSE(sealed_enough(::fcntl(fd.get(), F_GET_SEALS)));  // writable
  ASSERT_EQ(::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
  EXPECT_FALSE(sealed_enough(::fcntl(fd.get(), F_GET_SEALS)));  // still writable in place
  ASSERT_EQ(::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SEAL), 0);
  EXPECT_TRUE(sealed_enough(::fcntl(fd.get(), F_GET_SEALS)));
  EXPECT_FALSE(sealed_enough(-1));  // not a memfd: F_GET_SEALS fails
  // The test binary itself runs from its file, not from a sealed copy.
  EXPECT_FALSE(running_from_sealed_copy());
}

}  // namespace
}  // namespace vmm::container
