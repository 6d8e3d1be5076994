#include <gtest/gtest.h>

#include "support/mock_virtqueue.hpp"
#include "vmm/virtio/block_request.hpp"
#include "vmm/virtio/virtio_spec.hpp"

namespace vmm::virtio {
namespace {

using testing::Buffer;
using testing::MockVirtqueue;

constexpr uint64_t kMiB = 1ULL << 20;

class BlockRequestParse : public ::testing::Test {
 protected:
  GuestMemory mem_ = GuestMemory::create_regions({{GuestAddress(0), 4 * kMiB}});
  MockVirtqueue driver_{mem_, GuestAddress(0x1000), 256};
  Queue queue_{256};
  BlkDiskLimits limits_{.capacity_sectors = 2048,
                        .read_only = false,
                        .discard = true,
                        .write_zeroes = true,
                        .max_discard_sectors = 1024,
                        .max_write_zeroes_sectors = 1024};
  BlkRequest req_;

  void SetUp() override {
    driver_.configure(queue_);
    ASSERT_TRUE(queue_.enable(mem_, feature_bit(kFeatureVersion1)));
  }
  void header(uint64_t at, uint32_t type, uint64_t sector) {
    ASSERT_TRUE(mem_.write_obj(GuestAddress(at), type));
    ASSERT_TRUE(mem_.write_obj(GuestAddress(at + 4), uint32_t{0}));
    ASSERT_TRUE(mem_.write_obj(GuestAddress(at + 8), sector));
  }
  BlkParseResult parse(std::initializer_list<Buffer> chain) {
    driver_.add_chain(chain);
    auto c = queue_.pop();
    EXPECT_TRUE(c);
    return parse_block_request(*c, limits_, req_);
  }
};

TEST_F(BlockRequestParse, HeaderAndDataSharingDescriptors) {
  // Any layout: header split over two descriptors, data and status in one writable buffer.
  header(0x100000, kBlkTypeIn, 7);
  ASSERT_EQ(parse({{0x100000, 10, false}, {0x10000a, 6, false}, {0x200000, 1025, true}}),
            BlkParseResult::kOk);
  EXPECT_EQ(req_.type, kBlkTypeIn);
  EXPECT_EQ(req_.sector, 7u);
  EXPECT_EQ(req_.data_len, 1024u);
  ASSERT_EQ(req_.data_count, 1u);
  EXPECT_EQ(req_.data[0].iov_len, 1024u);
  EXPECT_EQ(req_.status, mem_.span(GuestAddress(0x200000 + 1024), 1)->data());
  EXPECT_EQ(block_request_used_len(req_, true), 1025u);
}

TEST_F(BlockRequestParse, WriteDataAfterHeaderInSameDescriptor) {
  header(0x100000, kBlkTypeOut, 0);
  ASSERT_EQ(parse({{0x100000, 16 + 512, false}, {0x200000, 1, true}}), BlkParseResult::kOk);
  EXPECT_EQ(req_.data_len, 512u);
  EXPECT_EQ(static_cast<uint8_t*>(req_.data[0].iov_base),
            mem_.span(GuestAddress(0x100010), 1)->data());
}

TEST_F(BlockRequestParse, Refusals) {
  header(0x100000, kBlkTypeIn, 0);
  EXPECT_EQ(parse({{0x100000, 16, false}, {0x200000, 100, true}, {0x300000, 1, true}}),
            BlkParseResult::kIoError);  // not a multiple of 512
  header(0x100000, kBlkTypeIn, ~uint64_t{0});
  EXPECT_EQ(parse({{0x100000, 16, false}, {0x200000, 512, true}, {0x300000, 1, true}}),
            BlkParseResult::kIoError);  // sector + count overflows
  header(0x100000, kBlkTypeOut, 0);
  EXPECT_EQ(parse({{0x100000, 16, false}, {0x200000, 512, true}, {0x300000, 1, true}}),
            BlkParseResult::kIoError);  // write data in a writable buffer
  EXPECT_EQ(parse({{0x100000, 8, false}, {0x300000, 1, true}}),
            BlkParseResult::kIoError);  // header too short
  header(0x100000, 42, 0);
  EXPECT_EQ(parse({{0x100000, 16, false}, {0x300000, 1, true}}), BlkParseResult::kUnsupported);
  EXPECT_EQ(parse({{0x100000, 16, false}, {0x300000, 0, true}}), BlkParseResult::kMalformed);
  EXPECT_EQ(req_.status, nullptr);
}

TEST_F(BlockRequestParse, TooManySegmentsIsIoError) {
  header(0x100000, kBlkTypeIn, 0);
  // Header + 129 data segments + status: one more data segment than seg_max.
  driver_.set_desc(0, 0x100000, 16, kDescFlagNext, 1);
  for (uint16_t i = 1; i <= kBlkMaxSegments + 1; ++i) {
    driver_.set_desc(i, 0x200000 + i * 512ULL, 512, kDescFlagNext | kDescFlagWrite,
                     static_cast<uint16_t>(i + 1));
  }
  driver_.set_desc(kBlkMaxSegments + 2, 0x300000, 1, kDescFlagWrite, 0);
  driver_.publish(0);
  auto c = queue_.pop();
  ASSERT_TRUE(c);
  EXPECT_EQ(parse_block_request(*c, limits_, req_), BlkParseResult::kIoError);
  EXPECT_NE(req_.status, nullptr);
}

TEST_F(BlockRequestParse, DiscardSegments) {
  auto seg = [&](uint64_t at, uint64_t sector, uint32_t num, uint32_t flags) {
    ASSERT_TRUE(mem_.write_obj(GuestAddress(at), sector));
    ASSERT_TRUE(mem_.write_obj(GuestAddress(at + 8), num));
    ASSERT_TRUE(mem_.write_obj(GuestAddress(at + 12), flags));
  };
  header(0x100000, kBlkTypeDiscard, 0);
  seg(0x110000, 0, 8, 0);
  seg(0x110010, 100, 16, 0);
  ASSERT_EQ(parse({{0x100000, 16, false}, {0x110000, 32, false}, {0x300000, 1, true}}),
            BlkParseResult::kOk);
  ASSERT_EQ(req_.range_count, 2u);
  EXPECT_EQ(req_.ranges[1].sector, 100u);
  EXPECT_EQ(req_.ranges[1].num_sectors, 16u);

  seg(0x110000, 0, 8, kBlkWriteZeroesFlagUnmap);  // unmap is for write-zeroes only
  EXPECT_EQ(parse({{0x100000, 16, false}, {0x110000, 16, false}, {0x300000, 1, true}}),
            BlkParseResult::kUnsupported);
  seg(0x110000, 2040, 16, 0);  // past capacity
  EXPECT_EQ(parse({{0x100000, 16, false}, {0x110000, 16, false}, {0x300000, 1, true}}),
            BlkParseResult::kIoError);
  seg(0x110000, 0, 2000, 0);  // above max_discard_sectors
  EXPECT_EQ(parse({{0x100000, 16, false}, {0x110000, 16, false}, {0x300000, 1, true}}),
            BlkParseResult::kIoError);
  EXPECT_EQ(parse({{0x100000, 16, false}, {0x110000, 12, false}, {0x300000, 1, true}}),
            BlkParseResult::kIoError);  // partial segment

  header(0x100000, kBlkTypeWriteZeroes, 0);
  seg(0x110000, 0, 8, kBlkWriteZeroesFlagUnmap);
  EXPECT_EQ(parse({{0x100000, 16, false}, {0x110000, 16, false}, {0x300000, 1, true}}),
            BlkParseResult::kOk);
  limits_.read_only = true;
  EXPECT_EQ(parse({{0x100000, 16, false}, {0x110000, 16, false}, {0x300000, 1, true}}),
            BlkParseResult::kIoError);
  limits_.write_zeroes = false;
  EXPECT_EQ(parse({{0x100000, 16, false}, {0x110000, 16, false}, {0x300000, 1, true}}),
            BlkParseResult::kUnsupported);
}

}  // namespace
}  // namespace vmm::virtio
