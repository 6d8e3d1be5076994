#include <gtest/gtest.h>

#include <vector>

#include "support/mock_virtqueue.hpp"
#include "vmm/virtio/queue.hpp"
#include "vmm/virtio/virtio_spec.hpp"

namespace vmm::virtio {
namespace {

using testing::Buffer;
using testing::MockVirtqueue;

constexpr uint64_t kMiB = 1ULL << 20;
constexpr uint64_t kGiB = 1ULL << 30;
constexpr uint64_t kRam = 1 * kMiB;
constexpr uint64_t kData = 0x80000;
const uint64_t kModern = feature_bit(kFeatureVersion1);
const uint64_t kIndirect = feature_bit(kFeatureRingIndirectDesc);
const uint64_t kEventIdx = feature_bit(kFeatureRingEventIdx);

class QueueTest : public ::testing::Test {
 protected:
  GuestMemory mem_ = GuestMemory::create_regions({{GuestAddress(0), kRam}});
  MockVirtqueue driver_{mem_, GuestAddress(0x1000), 16};
  Queue queue_{256};

  void enable(uint64_t features = kModern | kIndirect) {
    driver_.configure(queue_);
    ASSERT_TRUE(queue_.enable(mem_, features));
  }

  // Walks the whole chain; returns the buffers and leaves the error in `error`.
  static std::vector<Descriptor> walk(DescriptorChain& chain) {
    std::vector<Descriptor> out;
    while (auto d = chain.next()) out.push_back(*d);
    return out;
  }
};

TEST_F(QueueTest, SimpleSingleDescriptor) {
  enable();
  const uint16_t head = driver_.add_chain({{kData, 512, false}});
  auto chain = queue_.pop();
  ASSERT_TRUE(chain);
  EXPECT_EQ(chain->head_index(), head);
  auto bufs = walk(*chain);
  EXPECT_EQ(chain->error(), ChainError::kNone);
  ASSERT_EQ(bufs.size(), 1u);
  EXPECT_EQ(bufs[0].addr.raw, kData);
  EXPECT_EQ(bufs[0].len, 512u);
  EXPECT_FALSE(bufs[0].device_writable);
  EXPECT_FALSE(queue_.pop());

  EXPECT_TRUE(queue_.add_used(head, 77));
  EXPECT_EQ(driver_.used_idx(), 1);
  EXPECT_EQ(driver_.used_elem(0).id, head);
  EXPECT_EQ(driver_.used_elem(0).len, 77u);
}

TEST_F(QueueTest, ChainedReadableThenWritable) {
  enable();
  driver_.add_chain({{kData, 16, false}, {kData + 0x1000, 4096, true}, {kData + 0x3000, 1, true}});
  auto chain = queue_.pop();
  ASSERT_TRUE(chain);
  auto bufs = walk(*chain);
  EXPECT_EQ(chain->error(), ChainError::kNone);
  ASSERT_EQ(bufs.size(), 3u);
  EXPECT_TRUE(bufs[1].device_writable);
  EXPECT_TRUE(bufs[2].device_writable);
  EXPECT_EQ(chain->readable_len(), 16u);
  EXPECT_EQ(chain->writable_len(), 4097u);
}

TEST_F(QueueTest, IndirectTable) {
  enable();
  const GuestAddress table(0x40000);
  driver_.add_indirect_chain(
      table, {{kData, 16, false}, {kData + 0x100, 32, true}, {kData + 0x200, 1, true}});
  auto chain = queue_.pop();
  ASSERT_TRUE(chain);
  auto bufs = walk(*chain);
  EXPECT_EQ(chain->error(), ChainError::kNone);
  ASSERT_EQ(bufs.size(), 3u);
  EXPECT_EQ(bufs[1].addr.raw, kData + 0x100);
  EXPECT_EQ(chain->writable_len(), 33u);
}

TEST_F(QueueTest, IndirectRefusedWhenNotNegotiated) {
  enable(kModern);
  driver_.add_indirect_chain(GuestAddress(0x40000), {{kData, 16, false}});
  auto chain = queue_.pop();
  ASSERT_TRUE(chain);
  EXPECT_TRUE(walk(*chain).empty());
  EXPECT_EQ(chain->error(), ChainError::kIndirectNotNegotiated);
}

TEST_F(QueueTest, AvailIndexWrapsAround) {
  enable();
  // Start both sides just below the 16-bit wrap, as after a long uptime.
  for (int i = 0; i < 65534; ++i) {
    driver_.publish(0);
    ASSERT_TRUE(queue_.pop());
    ASSERT_TRUE(queue_.add_used(0, 0));
  }
  EXPECT_EQ(driver_.avail_idx(), 65534);
  driver_.set_next_free_desc(0);
  for (uint16_t i = 0; i < 4; ++i) driver_.add_chain({{kData + i * 0x100, 8, true}});
  EXPECT_EQ(driver_.avail_idx(), 2);  // wrapped
  for (uint16_t i = 0; i < 4; ++i) {
    auto chain = queue_.pop();
    ASSERT_TRUE(chain) << i;
    EXPECT_EQ(chain->head_index(), i);
    ASSERT_TRUE(queue_.add_used(chain->head_index(), 8));
  }
  EXPECT_FALSE(queue_.pop());
  EXPECT_EQ(driver_.used_idx(), 2);
  EXPECT_EQ(driver_.used_elem(65535).id, 1u);
  EXPECT_EQ(driver_.used_elem(1).id, 3u);
}

TEST_F(QueueTest, NoInterruptFlagSuppressesNotification) {
  enable();
  const uint16_t head = driver_.add_chain({{kData, 8, true}});
  ASSERT_TRUE(queue_.pop());
  ASSERT_TRUE(queue_.add_used(head, 8));
  EXPECT_TRUE(queue_.needs_notification());
  driver_.set_avail_flags(kAvailFlagNoInterrupt);
  ASSERT_TRUE(queue_.add_used(head, 8));
  EXPECT_FALSE(queue_.needs_notification());
}

TEST_F(QueueTest, EventIdxUsedEvent) {
  enable(kModern | kEventIdx);
  for (int i = 0; i < 4; ++i) driver_.add_chain({{kData, 8, true}});
  // Driver wants an interrupt only once used idx passes 2 (i.e. after the third buffer).
  driver_.set_used_event(2);
  ASSERT_TRUE(queue_.add_used(0, 8));
  EXPECT_TRUE(queue_.needs_notification());  // first notification is always sent
  ASSERT_TRUE(queue_.add_used(1, 8));
  EXPECT_FALSE(queue_.needs_notification());  // used idx 1 -> 2 does not pass event 2
  ASSERT_TRUE(queue_.add_used(2, 8));
  EXPECT_TRUE(queue_.needs_notification());  // 2 -> 3 passes it
  ASSERT_TRUE(queue_.add_used(3, 8));
  EXPECT_FALSE(queue_.needs_notification());
}

TEST_F(QueueTest, EventIdxAvailEventAndRace) {
  enable(kModern | kEventIdx);
  driver_.add_chain({{kData, 8, true}});
  ASSERT_TRUE(queue_.pop());
  EXPECT_FALSE(queue_.enable_notification());
  EXPECT_EQ(driver_.avail_event(), 1);  // kick me when you publish entry 1
  driver_.add_chain({{kData, 8, true}});
  EXPECT_TRUE(queue_.enable_notification());  // arrived meanwhile: drain again
}

TEST_F(QueueTest, NoNotifyFlagWithoutEventIdx) {
  enable();
  queue_.disable_notification();
  EXPECT_EQ(driver_.used_flags(), kUsedFlagNoNotify);
  EXPECT_FALSE(queue_.enable_notification());
  EXPECT_EQ(driver_.used_flags(), 0);
}

TEST(VringNeedEvent, MatchesSpecFormula) {
  EXPECT_TRUE(vring_need_event(0, 1, 0));
  EXPECT_FALSE(vring_need_event(5, 5, 4));
  EXPECT_TRUE(vring_need_event(5, 6, 4));
  EXPECT_TRUE(vring_need_event(65535, 0, 65534));  // across the wrap
  EXPECT_FALSE(vring_need_event(10, 3, 1));
}

// --- Ring validation when the driver sets queue_ready. ---

TEST_F(QueueTest, EnableRefusesBadSizes) {
  driver_.configure(queue_);
  queue_.set_size(0);
  EXPECT_FALSE(queue_.enable(mem_, kModern));
  queue_.set_size(12);
  EXPECT_FALSE(queue_.enable(mem_, kModern));
  queue_.set_size(512);  // above max 256
  EXPECT_FALSE(queue_.enable(mem_, kModern));
  EXPECT_FALSE(queue_.ready());
}

TEST_F(QueueTest, EnableRefusesMisalignedRings) {
  driver_.configure(queue_);
  queue_.set_desc_table(GuestAddress(0x1008));
  EXPECT_FALSE(queue_.enable(mem_, kModern));
  driver_.configure(queue_);
  queue_.set_avail_ring(GuestAddress(driver_.avail_ring().raw + 1));
  EXPECT_FALSE(queue_.enable(mem_, kModern));
  driver_.configure(queue_);
  queue_.set_used_ring(GuestAddress(driver_.used_ring().raw + 2));
  EXPECT_FALSE(queue_.enable(mem_, kModern));
}

TEST_F(QueueTest, EnableRefusesRingsOutsideRam) {
  driver_.configure(queue_);
  queue_.set_desc_table(GuestAddress(kRam - 16 * 8));  // table of 16 runs past the end
  EXPECT_FALSE(queue_.enable(mem_, kModern));
  driver_.configure(queue_);
  queue_.set_used_ring(GuestAddress(~uint64_t{0} - 3));  // address arithmetic would wrap
  EXPECT_FALSE(queue_.enable(mem_, kModern));
}

TEST_F(QueueTest, EventFieldsCountTowardsRingSize) {
  // The used ring ends exactly at the end of RAM: fine without EVENT_IDX, too short with it.
  driver_.configure(queue_);
  queue_.set_used_ring(GuestAddress(kRam - (4 + 8 * 16)));
  EXPECT_TRUE(queue_.enable(mem_, kModern));
  queue_.reset();
  driver_.configure(queue_);
  queue_.set_used_ring(GuestAddress(kRam - (4 + 8 * 16)));
  EXPECT_FALSE(queue_.enable(mem_, kModern | kEventIdx));
}

// --- Hostile chains. ---

TEST_F(QueueTest, LoopEndsAfterQueueSizeDescriptors) {
  enable();
  driver_.set_desc(0, kData, 8, kDescFlagNext, 1);
  driver_.set_desc(1, kData, 8, kDescFlagNext, 0);
  driver_.publish(0);
  auto chain = queue_.pop();
  ASSERT_TRUE(chain);
  auto bufs = walk(*chain);
  EXPECT_EQ(chain->error(), ChainError::kTooLong);
  EXPECT_EQ(bufs.size(), 16u);  // bounded by the queue size
}

TEST_F(QueueTest, NextIndexOutOfRange) {
  enable();
  driver_.set_desc(0, kData, 8, kDescFlagNext, 16);
  driver_.publish(0);
  auto chain = queue_.pop();
  ASSERT_TRUE(chain);
  walk(*chain);
  EXPECT_EQ(chain->error(), ChainError::kIndexOutOfRange);
}

TEST_F(QueueTest, HeadIndexOutOfRange) {
  enable();
  driver_.publish(200);
  auto chain = queue_.pop();
  ASSERT_TRUE(chain);
  EXPECT_FALSE(chain->next());
  EXPECT_EQ(chain->error(), ChainError::kIndexOutOfRange);
  EXPECT_FALSE(queue_.add_used(200, 0));
}

TEST_F(QueueTest, BufferPastGuestRam) {
  enable();
  driver_.add_chain({{kRam - 4, 8, true}});
  auto chain = queue_.pop();
  ASSERT_TRUE(chain);
  EXPECT_FALSE(chain->next());
  EXPECT_EQ(chain->error(), ChainError::kBufferOutsideRam);

  driver_.add_chain({{~uint64_t{0} - 2, 8, false}});  // address + length wraps
  chain = queue_.pop();
  ASSERT_TRUE(chain);
  EXPECT_FALSE(chain->next());
  EXPECT_EQ(chain->error(), ChainError::kBufferOutsideRam);
}

TEST(QueueHostile, LengthsWhoseSumOverflows) {
  // 3 GiB of lazily mapped RAM; nothing is touched but the rings.
  auto mem = GuestMemory::create_regions({{GuestAddress(0), 3 * kGiB}});
  MockVirtqueue driver(mem, GuestAddress(0x1000), 16);
  Queue queue(16);
  driver.configure(queue);
  ASSERT_TRUE(queue.enable(mem, kModern));
  driver.add_chain({{kGiB, static_cast<uint32_t>(2 * kGiB), false},
                    {kGiB, static_cast<uint32_t>(2 * kGiB), false},
                    {kGiB, 1, true}});
  auto chain = queue.pop();
  ASSERT_TRUE(chain);
  EXPECT_TRUE(chain->next());
  EXPECT_FALSE(chain->next());
  EXPECT_EQ(chain->error(), ChainError::kLengthOverflow);
}

TEST_F(QueueTest, ReadableAfterWritable) {
  enable();
  driver_.add_chain({{kData, 8, true}, {kData + 8, 8, false}});
  auto chain = queue_.pop();
  ASSERT_TRUE(chain);
  EXPECT_EQ(walk(*chain).size(), 1u);
  EXPECT_EQ(chain->error(), ChainError::kReadableAfterWritable);
}

TEST_F(QueueTest, NestedIndirect) {
  enable();
  const GuestAddress outer(0x40000);
  const GuestAddress inner(0x41000);
  driver_.write_desc_at(inner, 0, kData, 8, 0, 0);
  driver_.write_desc_at(outer, 0, inner.raw, 16, kDescFlagIndirect, 0);
  driver_.set_desc(0, outer.raw, 16, kDescFlagIndirect, 0);
  driver_.publish(0);
  auto chain = queue_.pop();
  ASSERT_TRUE(chain);
  EXPECT_FALSE(chain->next());
  EXPECT_EQ(chain->error(), ChainError::kNestedIndirect);
}

TEST_F(QueueTest, MalformedIndirectTables) {
  enable();
  struct Case {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
  };
  const Case cases[] = {
      {0x40000, 0, kDescFlagIndirect},                   // empty
      {0x40000, 24, kDescFlagIndirect},                  // not a multiple of 16
      {kRam - 16, 32, kDescFlagIndirect},                // runs past RAM
      {0x40000, 16, kDescFlagIndirect | kDescFlagNext},  // INDIRECT together with NEXT
  };
  for (const auto& c : cases) {
    driver_.set_desc(0, c.addr, c.len, c.flags, 1);
    driver_.publish(0);
    auto chain = queue_.pop();
    ASSERT_TRUE(chain);
    EXPECT_FALSE(chain->next());
    EXPECT_EQ(chain->error(), ChainError::kBadIndirectTable) << c.addr << " " << c.len;
  }
}

TEST_F(QueueTest, LoopInsideIndirectTableIsBounded) {
  enable();
  const GuestAddress table(0x40000);
  driver_.write_desc_at(table, 0, kData, 8, kDescFlagNext, 1);
  driver_.write_desc_at(table, 1, kData, 8, kDescFlagNext, 0);
  driver_.set_desc(0, table.raw, 32, kDescFlagIndirect, 0);
  driver_.publish(0);
  auto chain = queue_.pop();
  ASSERT_TRUE(chain);
  EXPECT_EQ(walk(*chain).size(), 2u);
  EXPECT_EQ(chain->error(), ChainError::kTooLong);
}

TEST_F(QueueTest, IndirectNextBeyondTable) {
  enable();
  const GuestAddress table(0x40000);
  driver_.write_desc_at(table, 0, kData, 8, kDescFlagNext, 2);  // table holds 2 entries
  driver_.set_desc(0, table.raw, 32, kDescFlagIndirect, 0);
  driver_.publish(0);
  auto chain = queue_.pop();
  ASSERT_TRUE(chain);
  walk(*chain);
  EXPECT_EQ(chain->error(), ChainError::kIndexOutOfRange);
}

TEST_F(QueueTest, AvailIndexJumpBreaksQueue) {
  enable();
  driver_.set_avail_idx(17);  // more than the queue size of 16 at once
  EXPECT_FALSE(queue_.pop());
  EXPECT_TRUE(queue_.broken());
  EXPECT_FALSE(queue_.add_used(0, 0));
  EXPECT_EQ(driver_.used_idx(), 0);
  queue_.reset();
  EXPECT_FALSE(queue_.broken());
  EXPECT_FALSE(queue_.ready());
}

}  // namespace
}  // namespace vmm::virtio
