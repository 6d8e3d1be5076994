// The 9P2000.L codec: well-formed requests parse into their fields, and every kind of broken
// message (short, long, lying size field, oversized strings or walks, unknown types) is an
// error rather than a read past the message.
#include "vmm/virtio/p9_protocol.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "support/p9_messages.hpp"

namespace vmm::virtio::p9 {
namespace {

using test::P9Message;
using test::P9Reply;

TEST(P9Protocol, ParsesVersion) {
  const auto msg = P9Message(kTversion, kNoTag).u32(65536).str("9P2000.L").done();
  const ParseResult r = parse_request(msg, kMaxMsize);
  ASSERT_TRUE(r.request);
  EXPECT_EQ(r.request->tag, kNoTag);
  const auto& v = std::get<Tversion>(r.request->body);
  EXPECT_EQ(v.msize, 65536U);
  EXPECT_EQ(v.version, "9P2000.L");
}

TEST(P9Protocol, ParsesWalkNamesAndWriteData) {
  auto walk = P9Message(kTwalk, 3).u32(1).u32(2).u16(3).str("a").str("bb").str("..").done();
  ParseResult r = parse_request(walk, kMaxMsize);
  ASSERT_TRUE(r.request);
  const auto& w = std::get<Twalk>(r.request->body);
  ASSERT_EQ(w.names.size(), 3U);
  EXPECT_EQ(w.names[1], "bb");

  const uint8_t data[] = {1, 2, 3, 4, 5};
  auto write = P9Message(kTwrite, 4).u32(7).u64(100).u32(5).raw(data).done();
  r = parse_request(write, kMaxMsize);
  ASSERT_TRUE(r.request);
  const auto& wr = std::get<Twrite>(r.request->body);
  EXPECT_EQ(wr.offset, 100U);
  ASSERT_EQ(wr.data.size(), 5U);
  EXPECT_EQ(wr.data[4], 5);
}

TEST(P9Protocol, RefusesMoreThanSixteenWalkNames) {
  P9Message m(kTwalk, 1);
  m.u32(1).u32(2).u16(17);
  for (int i = 0; i < 17; ++i) m.str("x");
  const ParseResult r = parse_request(m.done(), kMaxMsize);
  EXPECT_FALSE(r.request);
  EXPECT_EQ(r.error, ParseError::kMalformed);
  EXPECT_EQ(r.tag, 1);
}

TEST(P9Protocol, RefusesWriteCountBeyondMessage) {
  const uint8_t data[] = {1, 2};
  const auto msg = P9Message(kTwrite, 2).u32(1).u64(0).u32(0xffffffffU).raw(data).done();
  EXPECT_EQ(parse_request(msg, kMaxMsize).error, ParseError::kMalformed);
}

TEST(P9Protocol, RefusesSizeFieldThatDisagrees) {
  auto msg = P9Message(kTclunk, 5).u32(1).done();
  msg[0] = static_cast<uint8_t>(msg[0] + 1);
  const ParseResult r = parse_request(msg, kMaxMsize);
  EXPECT_FALSE(r.request);
  EXPECT_EQ(r.error, ParseError::kTruncated);
}

TEST(P9Protocol, RefusesTrailingBytesAndShortBodies) {
  auto longer = P9Message(kTclunk, 5).u32(1).u8(0).done();
  EXPECT_EQ(parse_request(longer, kMaxMsize).error, ParseError::kMalformed);
  auto shorter = P9Message(kTgetattr, 5).u32(1).u32(0).done();  // mask is 8 bytes
  EXPECT_EQ(parse_request(shorter, kMaxMsize).error, ParseError::kMalformed);
}

TEST(P9Protocol, RefusesStringLongerThanMessageOrName) {
  auto lying = P9Message(kTmkdir, 1).u32(1).u16(60000).done();
  EXPECT_EQ(parse_request(lying, kMaxMsize).error, ParseError::kMalformed);
  const std::string too_long(kMaxNameLength + 1, 'a');
  auto long_name = P9Message(kTmkdir, 1).u32(1).str(too_long).u32(0755).u32(0).done();
  EXPECT_EQ(parse_request(long_name, kMaxMsize).error, ParseError::kMalformed);
  const std::string with_nul("a\0b", 3);
  auto nul = P9Message(kTmkdir, 1).u32(1).str(with_nul).u32(0755).u32(0).done();
  EXPECT_EQ(parse_request(nul, kMaxMsize).error, ParseError::kMalformed);
}

TEST(P9Protocol, RefusesUnknownTypeAndReplyTypes) {
  EXPECT_EQ(parse_request(P9Message(200, 9).done(), kMaxMsize).error, ParseError::kUnknownType);
  EXPECT_EQ(parse_request(P9Message(kRread, 9).u32(0).done(), kMaxMsize).error,
            ParseError::kUnknownType);
  EXPECT_EQ(parse_request(P9Message(kTlerror, 9).u32(0).done(), kMaxMsize).error,
            ParseError::kUnknownType);
}

TEST(P9Protocol, RefusesMessageLargerThanMsize) {
  const std::vector<uint8_t> data(5000, 0xaa);
  const auto msg = P9Message(kTwrite, 2).u32(1).u64(0).u32(5000).raw(data).done();
  EXPECT_EQ(parse_request(msg, 4096).error, ParseError::kMalformed);
  EXPECT_TRUE(parse_request(msg, 8192).request);
}

TEST(P9Protocol, TooShortForAHeader) {
  const std::vector<uint8_t> msg = {7, 0, 0, 0, kTclunk, 1};
  EXPECT_EQ(parse_request(msg, kMaxMsize).error, ParseError::kTruncated);
}

TEST(P9Protocol, FsyncWithAndWithoutDatasync) {
  auto old_form = P9Message(kTfsync, 1).u32(4).done();
  ASSERT_TRUE(parse_request(old_form, kMaxMsize).request);
  auto new_form = P9Message(kTfsync, 1).u32(4).u32(1).done();
  const ParseResult r = parse_request(new_form, kMaxMsize);
  ASSERT_TRUE(r.request);
  EXPECT_EQ(std::get<Tfsync>(r.request->body).datasync, 1U);
}

TEST(P9Protocol, ReplyWriterStopsAtItsLimit) {
  std::vector<uint8_t> out;
  ReplyWriter w(out, 16, kRreadlink, 3);
  w.str("0123456");  // 7 + 2 + 7 = 16: fits exactly
  ASSERT_TRUE(w.finish());
  P9Reply r(out);
  EXPECT_EQ(r.size, 16U);
  EXPECT_EQ(r.type, kRreadlink);
  EXPECT_EQ(r.str(), "0123456");

  std::vector<uint8_t> out2;
  ReplyWriter w2(out2, 16, kRreadlink, 3);
  w2.str("01234567");
  EXPECT_FALSE(w2.finish());
  EXPECT_TRUE(out2.empty());
}

TEST(P9Protocol, RlerrorCarriesTheErrno) {
  std::vector<uint8_t> out;
  build_rlerror(out, 42, 13);
  P9Reply r(out);
  EXPECT_EQ(r.type, kRlerror);
  EXPECT_EQ(r.tag, 42);
  EXPECT_EQ(r.error(), 13U);
  EXPECT_EQ(out.size(), kIoHeaderSize);
}

}  // namespace
}  // namespace vmm::virtio::p9
