#include <gtest/gtest.h>
#include <sys/mount.h>

#include "container/default_spec.hpp"
#include "container/rootfs_setup.hpp"
#include "container/state_store.hpp"
#include "vmm/common/error.hpp"

namespace vmm::container {
namespace {

TEST(ContainerMountOptions, FlagsPropagationAndData) {
  const MountFlags f =
      parse_mount_options({"rbind", "ro", "nosuid", "rprivate", "mode=755", "size=1m"});
  EXPECT_TRUE(f.bind);
  EXPECT_EQ(f.flags & (MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID),
            MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID);
  EXPECT_EQ(f.propagation, static_cast<unsigned long>(MS_PRIVATE | MS_REC));
  EXPECT_EQ(f.data, "mode=755,size=1m");
  EXPECT_EQ(parse_mount_options({"ro", "rw"}).flags & MS_RDONLY, 0U);
}

TEST(ContainerMountOptions, RuncExtensionsNeverReachTheKernel) {
  // podman adds tmpcopyup to tmpfs mounts; containerd and podman may send recursive options.
  MountFlags f = parse_mount_options({"nosuid", "tmpcopyup", "mode=1777", "rro", "rnoexec"});
  EXPECT_TRUE(f.tmpcopyup);
  EXPECT_EQ(f.data, "mode=1777");
  EXPECT_EQ(f.recursive_set, static_cast<uint64_t>(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOEXEC));
  EXPECT_EQ(f.recursive_clear, 0U);
  f = parse_mount_options({"tmpcopyup", "notmpcopyup", "rro", "rrw", "rnoatime"});
  EXPECT_FALSE(f.tmpcopyup);
  EXPECT_EQ(f.recursive_set, static_cast<uint64_t>(MOUNT_ATTR_NOATIME));
  EXPECT_EQ(f.recursive_clear & MOUNT_ATTR_RDONLY, static_cast<uint64_t>(MOUNT_ATTR_RDONLY));
  EXPECT_TRUE(f.data.empty());
  for (const char* unsupported : {"idmap", "ridmap", "copy-symlink"}) {
    EXPECT_THROW((void)parse_mount_options({"rbind", unsupported}), ConfigError) << unsupported;
  }
}

TEST(ContainerDefaults, SizesAndUsers) {
  EXPECT_EQ(parse_size("512", "--memory"), 512U);
  EXPECT_EQ(parse_size("64k", "--memory"), 64U << 10);
  EXPECT_EQ(parse_size("256M", "--memory"), 256U << 20);
  EXPECT_EQ(parse_size("2G", "--memory"), 2ULL << 30);
  EXPECT_THROW((void)parse_size("", "--memory"), ConfigError);
  EXPECT_THROW((void)parse_size("12X", "--memory"), ConfigError);
  EXPECT_THROW((void)parse_size("-5M", "--memory"), ConfigError);
  EXPECT_THROW((void)parse_size("99999999999999999999G", "--memory"), ConfigError);
  User u;
  parse_user("1000:100", u);
  EXPECT_EQ(u.uid, 1000U);
  EXPECT_EQ(u.gid, 100U);
  parse_user("7", u);
  EXPECT_EQ(u.gid, 7U);
  EXPECT_THROW(parse_user("root", u), ConfigError);
  EXPECT_THROW(parse_user("1:", u), ConfigError);
}

TEST(ContainerDefaults, DefaultSpecIsIsolated) {
  const Spec s = default_spec(false);
  for (int t :
       {CLONE_NEWPID, CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWNET, CLONE_NEWCGROUP}) {
    EXPECT_TRUE(s.has_new_namespace(t)) << t;
  }
  EXPECT_FALSE(s.has_new_namespace(CLONE_NEWUSER));
  EXPECT_TRUE(default_spec(true).has_new_namespace(CLONE_NEWUSER));
  EXPECT_TRUE(s.process.no_new_privileges);
  EXPECT_EQ(s.process.capabilities.bounding.size(), 14U);
  // The template `oci spec` writes parses back.
  EXPECT_NO_THROW((void)parse_config(spec_template_json(false)));
  EXPECT_NO_THROW((void)parse_config(spec_template_json(true)));
}

TEST(ContainerState, IdValidation) {
  EXPECT_NO_THROW(validate_container_id("web-1.2_a+b"));
  EXPECT_THROW(validate_container_id(""), ConfigError);
  EXPECT_THROW(validate_container_id("../etc"), ConfigError);
  EXPECT_THROW(validate_container_id("a/b"), ConfigError);
  EXPECT_THROW(validate_container_id(".hidden"), ConfigError);
  EXPECT_THROW(validate_container_id(std::string(129, 'a')), ConfigError);
}

}  // namespace
}  // namespace vmm::container
