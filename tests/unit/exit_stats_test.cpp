// vCPU exit statistics: counts by kind and by port or address, merged across vCPUs.
#include "vmm/exit_stats.hpp"

#include <gtest/gtest.h>

namespace vmm {
namespace {

using Kind = kvm::VcpuExit::Kind;

TEST(ExitStats, CountsByKindAndAddressMostFrequentFirst) {
  ExitStats a;
  ExitStats b;
  for (int i = 0; i < 5; ++i) a.count(Kind::kIoOut, 0x3f8);
  for (int i = 0; i < 2; ++i) a.count(Kind::kIoIn, 0x3fd);
  a.count(Kind::kMmioWrite, 0xfeb00000);
  a.count(Kind::kInterrupted, 0);
  for (int i = 0; i < 4; ++i) b.count(Kind::kIoIn, 0x3fd);
  b.count(Kind::kIoOut, 0x3fd);  // same port, another direction: its own entry
  ExitSummary s;
  a.add_to(s);
  b.add_to(s);
  finish_summary(s, 3);
  EXPECT_EQ(s.total, 14U);
  ASSERT_EQ(s.by_address.size(), 3U);
  EXPECT_EQ(s.by_address[0].kind, "pio-in");
  EXPECT_EQ(s.by_address[0].address, 0x3fdU);
  EXPECT_EQ(s.by_address[0].count, 6U);
  EXPECT_EQ(s.by_address[1].kind, "pio-out");
  EXPECT_EQ(s.by_address[1].address, 0x3f8U);
  EXPECT_EQ(s.by_address[1].count, 5U);
  ASSERT_FALSE(s.by_kind.empty());
  EXPECT_EQ(s.by_kind[0].kind, "pio-in");
  EXPECT_EQ(s.by_kind[0].count, 6U);
  EXPECT_EQ(s.untracked, 0U);
}

TEST(ExitStats, AddressesBeyondTheTableAreCountedAsUntracked) {
  ExitStats a;
  for (uint64_t port = 0; port < 200; ++port) a.count(Kind::kIoIn, port);
  ExitSummary s;
  a.add_to(s);
  finish_summary(s, 1000);
  EXPECT_EQ(s.total, 200U);
  EXPECT_EQ(s.by_address.size() + s.untracked, 200U);
  EXPECT_GT(s.untracked, 0U);
}

}  // namespace
}  // namespace vmm
