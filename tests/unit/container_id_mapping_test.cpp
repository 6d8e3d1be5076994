#include <gtest/gtest.h>

#include "container/id_mapping.hpp"
#include "vmm/common/error.hpp"

namespace vmm::container {
namespace {

TEST(ContainerIdMapping, FormatsOneLinePerRange) {
  const std::vector<IdMapping> m = {{0, 100000, 1000}, {1000, 5000, 1}};
  EXPECT_EQ(format_id_map(m), "0 100000 1000\n1000 5000 1\n");
}

TEST(ContainerIdMapping, MapsIdsThroughRanges) {
  const std::vector<IdMapping> m = {{0, 100000, 1000}, {1000, 5000, 1}};
  EXPECT_EQ(map_to_host(m, 0), 100000U);
  EXPECT_EQ(map_to_host(m, 999), 100999U);
  EXPECT_EQ(map_to_host(m, 1000), 5000U);
  EXPECT_EQ(map_to_host(m, 1001), std::nullopt);
  EXPECT_EQ(map_to_host({{4294967294U, 1, 1}}, 4294967294U), 1U);
}

TEST(ContainerIdMapping, RootlessMapsRootToTheCaller) {
  const auto m = rootless_mapping(65534);
  ASSERT_EQ(m.size(), 1U);
  EXPECT_EQ(format_id_map(m), "0 65534 1\n");
  EXPECT_EQ(map_to_host(m, 0), 65534U);
  EXPECT_EQ(map_to_host(m, 1), std::nullopt);
}

TEST(ContainerIdMapping, ValidationRejectsBadRanges) {
  EXPECT_NO_THROW(validate_id_mappings({{0, 1000, 10}, {10, 2000, 10}}, "uid"));
  EXPECT_THROW(validate_id_mappings({{0, 1000, 0}}, "uid"), ConfigError);
  EXPECT_THROW(validate_id_mappings({{0, 4294967295U, 2}}, "uid"), ConfigError);  // host overflow
  EXPECT_THROW(validate_id_mappings({{4294967295U, 0, 2}}, "uid"),
               ConfigError);  // container overflow
  EXPECT_THROW(validate_id_mappings({{0, 1000, 10}, {5, 3000, 10}}, "uid"),
               ConfigError);  // container overlap
  EXPECT_THROW(validate_id_mappings({{0, 1000, 10}, {20, 1005, 10}}, "uid"),
               ConfigError);  // host overlap
  std::vector<IdMapping> many;
  for (uint32_t i = 0; i < 341; ++i) many.push_back({i, 10000 + i, 1});
  EXPECT_THROW(validate_id_mappings(many, "uid"), ConfigError);
}

}  // namespace
}  // namespace vmm::container
