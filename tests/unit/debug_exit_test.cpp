#include "devices/legacy/debug_exit.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace vmm::devices {
namespace {

class RecordingStopper final : public VmStopper {
 public:
  void request_stop(StopReason reason, int exit_status) override {
    requests.push_back({reason, exit_status});
  }
  struct Request {
    StopReason reason;
    int exit_status;
  };
  std::vector<Request> requests;
};

TEST(DebugExit, ByteValueThreeExitsSeven) {
  RecordingStopper stopper;
  DebugExit dev(stopper);
  const std::array<uint8_t, 1> v{3};
  dev.write(0, v);
  ASSERT_EQ(stopper.requests.size(), 1u);
  EXPECT_EQ(stopper.requests[0].reason, StopReason::kDebugExit);
  EXPECT_EQ(stopper.requests[0].exit_status, 7);
}

TEST(DebugExit, WideValuesAreLittleEndianAndReducedModulo256) {
  RecordingStopper stopper;
  DebugExit dev(stopper);
  const std::array<uint8_t, 2> word{0x10, 0x00};  // 0x0010 -> 0x21
  dev.write(0, word);
  const std::array<uint8_t, 4> dword{0x80, 0x01, 0x00, 0x00};  // 0x180 -> 0x301 -> 0x01
  dev.write(0, dword);
  const std::array<uint8_t, 1> zero{0};
  dev.write(0, zero);
  ASSERT_EQ(stopper.requests.size(), 3u);
  EXPECT_EQ(stopper.requests[0].exit_status, 0x21);
  EXPECT_EQ(stopper.requests[1].exit_status, 0x01);
  EXPECT_EQ(stopper.requests[2].exit_status, 1);  // never a clean 0
  EXPECT_EQ(DebugExit::exit_status(0x7f), 0xff);
}

TEST(DebugExit, ReadsAllOnes) {
  RecordingStopper stopper;
  DebugExit dev(stopper);
  std::array<uint8_t, 4> data{};
  dev.read(0, data);
  EXPECT_EQ(data, (std::array<uint8_t, 4>{0xff, 0xff, 0xff, 0xff}));
  EXPECT_TRUE(stopper.requests.empty());
}

}  // namespace
}  // namespace vmm::devices
