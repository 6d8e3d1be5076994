#include "vmm/common/uuid.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "vmm/common/error.hpp"

namespace vmm {
namespace {

const Uuid kSample{{0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc,
                    0xdd, 0xee, 0xff}};

TEST(Uuid, FormatsCanonicalLowercase) {
  EXPECT_EQ(to_string(kSample), "00112233-4455-6677-8899-aabbccddeeff");
  EXPECT_EQ(to_string(Uuid{}), "00000000-0000-0000-0000-000000000000");
  EXPECT_EQ(to_string(kSample).size(), kUuidTextSize);
}

TEST(Uuid, ParsesEitherCase) {
  EXPECT_EQ(parse_uuid("00112233-4455-6677-8899-aabbccddeeff"), kSample);
  EXPECT_EQ(parse_uuid("00112233-4455-6677-8899-AABBCCDDEEFF"), kSample);
  EXPECT_TRUE(parse_uuid("00000000-0000-0000-0000-000000000000").is_nil());
  EXPECT_FALSE(kSample.is_nil());
}

TEST(Uuid, RoundTrips) {
  for (int i = 0; i < 16; ++i) {
    const Uuid uuid = random_uuid();
    EXPECT_EQ(parse_uuid(to_string(uuid)), uuid);
  }
}

TEST(Uuid, RandomIsVersion4Rfc4122Variant) {
  std::set<std::string> seen;
  for (int i = 0; i < 64; ++i) {
    const Uuid uuid = random_uuid();
    EXPECT_EQ(uuid.bytes[6] >> 4, 4);
    EXPECT_EQ(uuid.bytes[8] >> 6, 2);
    const std::string text = to_string(uuid);
    EXPECT_EQ(text[14], '4') << text;
    EXPECT_NE(std::string("89ab").find(text[19]), std::string::npos) << text;
    seen.insert(text);
  }
  EXPECT_EQ(seen.size(), 64u);  // 122 random bits: a repeat means no randomness
}

TEST(Uuid, RefusesMalformedText) {
  for (const char* bad : {
           "",
           "00112233-4455-6677-8899-aabbccddeef",    // short
           "00112233-4455-6677-8899-aabbccddeeff0",  // long
           "001122334455-6677-8899-aabbccddeeff-",   // hyphens misplaced
           "00112233+4455-6677-8899-aabbccddeeff",   // wrong separator
           "0011223g-4455-6677-8899-aabbccddeeff",   // not hex
           "{0112233-4455-6677-8899-aabbccddeeff}",  // braces are not the canonical form
           "00112233-4455-6677-8899 aabbccddeeff",
           " 0112233-4455-6677-8899-aabbccddeeff",
       }) {
    try {
      (void)parse_uuid(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.field(), "uuid") << bad;
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace vmm
