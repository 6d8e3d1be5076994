#include <gtest/gtest.h>

#include <array>

#include "support/mock_virtqueue.hpp"
#include "vmm/virtio/device_state.hpp"
#include "vmm/virtio/virtio_spec.hpp"

namespace vmm::virtio {
namespace {

using Action = VirtioDeviceState::StatusAction;

const uint64_t kOffered = feature_bit(kFeatureVersion1) | feature_bit(kFeatureRingEventIdx) | 0x3;
constexpr std::array<uint16_t, 2> kQueues{256, 128};

class DeviceStateTest : public ::testing::Test {
 protected:
  VirtioDeviceState state_{kOffered, kQueues};

  void negotiate(uint64_t features) {
    ASSERT_EQ(state_.write_status(kStatusAcknowledge), Action::kNone);
    ASSERT_EQ(state_.write_status(kStatusAcknowledge | kStatusDriver), Action::kNone);
    state_.write_driver_features_word(0, static_cast<uint32_t>(features));
    state_.write_driver_features_word(1, static_cast<uint32_t>(features >> 32));
    (void)state_.write_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
  }
};

TEST_F(DeviceStateTest, FeatureWindows) {
  EXPECT_EQ(state_.device_features_word(0), static_cast<uint32_t>(kOffered));
  EXPECT_EQ(state_.device_features_word(1), 1u);  // VERSION_1 is bit 32
  EXPECT_EQ(state_.device_features_word(2), 0u);
}

TEST_F(DeviceStateTest, HappyPathActivates) {
  negotiate(feature_bit(kFeatureVersion1) | 0x1);
  EXPECT_NE(state_.status() & kStatusFeaturesOk, 0);
  EXPECT_EQ(state_.driver_features(), feature_bit(kFeatureVersion1) | 0x1);
  EXPECT_EQ(
      state_.write_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk),
      Action::kActivate);
  EXPECT_TRUE(state_.driver_ok());
  EXPECT_EQ(state_.write_status(0), Action::kReset);
  state_.reset();
  EXPECT_EQ(state_.status(), 0);
  EXPECT_EQ(state_.driver_features(), 0u);
}

TEST_F(DeviceStateTest, FeaturesOkRefusedWithoutVersion1) {
  negotiate(0x1);
  EXPECT_EQ(state_.status() & kStatusFeaturesOk, 0);
  // DRIVER_OK cannot follow.
  EXPECT_EQ(
      state_.write_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk),
      Action::kNone);
  EXPECT_FALSE(state_.driver_ok());
}

TEST_F(DeviceStateTest, FeaturesOkRefusedForUnofferedBits) {
  negotiate(feature_bit(kFeatureVersion1) | feature_bit(kFeatureRingIndirectDesc));
  EXPECT_EQ(state_.status() & kStatusFeaturesOk, 0);
}

TEST_F(DeviceStateTest, OutOfOrderBitsIgnored) {
  EXPECT_EQ(state_.write_status(kStatusDriver), Action::kNone);
  EXPECT_EQ(state_.status(), 0);
  EXPECT_EQ(state_.write_status(kStatusAcknowledge | kStatusDriver | kStatusDriverOk),
            Action::kNone);
  EXPECT_FALSE(state_.driver_ok());
  // Clearing bits is not a valid transition either.
  EXPECT_EQ(state_.write_status(kStatusAcknowledge), Action::kNone);
  EXPECT_EQ(state_.status(), kStatusAcknowledge | kStatusDriver);
}

TEST_F(DeviceStateTest, FeaturesFrozenAfterFeaturesOk) {
  negotiate(feature_bit(kFeatureVersion1));
  state_.write_driver_features_word(0, 0x3);
  EXPECT_EQ(state_.driver_features(), feature_bit(kFeatureVersion1));
}

TEST_F(DeviceStateTest, NeedsResetSurvivesDriverWrites) {
  negotiate(feature_bit(kFeatureVersion1));
  state_.set_needs_reset();
  (void)state_.write_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
  EXPECT_NE(state_.status() & kStatusDeviceNeedsReset, 0);
}

TEST_F(DeviceStateTest, QueueSelectAndBadRingsSetNeedsReset) {
  auto mem = GuestMemory::create_regions({{GuestAddress(0), 1 << 20}});
  negotiate(feature_bit(kFeatureVersion1));
  state_.set_queue_select(5);
  EXPECT_EQ(state_.selected_queue(), nullptr);
  EXPECT_FALSE(state_.queue_config_writable());
  state_.set_queue_select(1);
  ASSERT_NE(state_.selected_queue(), nullptr);
  EXPECT_EQ(state_.selected_queue()->max_size(), 128);
  testing::MockVirtqueue driver(mem, GuestAddress(0x1000), 64);
  driver.configure(*state_.selected_queue());
  EXPECT_TRUE(state_.enable_selected_queue(mem));
  EXPECT_FALSE(state_.queue_config_writable());  // enabled queues are frozen
  EXPECT_EQ(state_.status() & kStatusDeviceNeedsReset, 0);

  state_.set_queue_select(0);
  state_.selected_queue()->set_desc_table(GuestAddress(1 << 20));  // past RAM
  EXPECT_FALSE(state_.enable_selected_queue(mem));
  EXPECT_NE(state_.status() & kStatusDeviceNeedsReset, 0);
  state_.reset();
  EXPECT_FALSE(state_.queues()[1].ready());
}

}  // namespace
}  // namespace vmm::virtio
