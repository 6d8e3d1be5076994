#include "devices/legacy/debug_exit.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "support/recording_stopper.hpp"

namespace vmm::devices {
namespace {

using test::RecordingStopper;

TEST(DebugExit, ByteValueThreeExitsSeven) {
  RecordingStopper stopper;
  DebugExit dev(stopper);
  const std::array<uint8_t, 1> v{3};
  dev.write(0, v);
  ASSERT_EQ(stopper.requests().size(), 1u);
  EXPECT_EQ(stopper.requests()[0].reason, StopReason::kDebugExit);
  EXPECT_EQ(stopper.requests()[0].debug_exit_value, 3u);
}

TEST(DebugExit, WideValuesAreLittleEndian) {
  RecordingStopper stopper;
  DebugExit dev(stopper);
  const std::array<uint8_t, 2> word{0x10, 0x00};
  dev.write(0, word);
  const std::array<uint8_t, 4> dword{0x80, 0x01, 0x00, 0x00};
  dev.write(0, dword);
  const std::array<uint8_t, 1> zero{0};
  dev.write(0, zero);
  ASSERT_EQ(stopper.requests().size(), 3u);
  EXPECT_EQ(stopper.requests()[0].debug_exit_value, 0x10u);
  EXPECT_EQ(stopper.requests()[1].debug_exit_value, 0x180u);
  EXPECT_EQ(stopper.requests()[2].debug_exit_value, 0u);
}

TEST(DebugExit, ReadsAllOnes) {
  RecordingStopper stopper;
  DebugExit dev(stopper);
  std::array<uint8_t, 4> data{};
  dev.read(0, data);
  EXPECT_EQ(data, (std::array<uint8_t, 4>{0xff, 0xff, 0xff, 0xff}));
  EXPECT_TRUE(stopper.requests().empty());
}

}  // namespace
}  // namespace vmm::devices
