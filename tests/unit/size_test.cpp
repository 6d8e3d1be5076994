#include "vmm/common/size.hpp"

#include <gtest/gtest.h>

namespace vmm {
namespace {

TEST(ParseSize, Suffixes) {
  EXPECT_EQ(parse_size("512M"), 512ULL << 20);
  EXPECT_EQ(parse_size("2G"), 2ULL << 30);
  EXPECT_EQ(parse_size("2g"), 2ULL << 30);
  EXPECT_EQ(parse_size("1536MiB"), 1536ULL << 20);
  EXPECT_EQ(parse_size("4096K"), 4096ULL << 10);
  EXPECT_EQ(parse_size("1T"), 1ULL << 40);
  EXPECT_EQ(parse_size("100B"), 100u);
  EXPECT_EQ(parse_size("256"), 256ULL << 20);  // bare number: MiB
}

TEST(ParseSize, Malformed) {
  EXPECT_FALSE(parse_size(""));
  EXPECT_FALSE(parse_size("M"));
  EXPECT_FALSE(parse_size("12X"));
  EXPECT_FALSE(parse_size("12MM"));
  EXPECT_FALSE(parse_size("-1G"));
  EXPECT_FALSE(parse_size("1.5G"));
  EXPECT_FALSE(parse_size("99999999999999999999"));  // overflows while parsing
  EXPECT_FALSE(parse_size("17179869184G"));          // overflows when scaled
}

TEST(FormatSize, PicksTheLargestExactUnit) {
  EXPECT_EQ(format_size(512ULL << 20), "512 MiB");
  EXPECT_EQ(format_size(3ULL << 30), "3 GiB");
  EXPECT_EQ(format_size(1000), "1000 B");
}

}  // namespace
}  // namespace vmm
