// What the farm's scheduler lets run at once: CPUs and memory within the machine, at most
// --jobs, and always one job.
#include <gtest/gtest.h>

#include <climits>

#include "farm/capacity.hpp"

namespace {

using vmm::farm::Capacity;
using vmm::farm::Demand;
using vmm::farm::demand_of;
using vmm::farm::JobKind;
using vmm::farm::JobSpec;
using vmm::farm::Usage;

constexpr uint64_t kMiB = 1ULL << 20;

TEST(FarmCapacity, DemandOfVmsAndContainers) {
  JobSpec vm;
  vm.kind = JobKind::kVm;
  EXPECT_EQ(demand_of(vm).cpus, 1U);
  EXPECT_EQ(demand_of(vm).memory_bytes, 576 * kMiB);  // 512 MiB RAM + the VMM
  vm.cpus = 4;
  vm.memory_bytes = 128 * kMiB;
  EXPECT_EQ(demand_of(vm).cpus, 4U);
  EXPECT_EQ(demand_of(vm).memory_bytes, 192 * kMiB);
  JobSpec box;
  box.kind = JobKind::kContainer;
  EXPECT_EQ(demand_of(box).memory_bytes, 64 * kMiB);
}

TEST(FarmCapacity, CpusMemoryAndJobsLimitWhatRunsAtOnce) {
  Usage usage(Capacity{3, 4, 1024 * kMiB});
  const Demand two_cpus{2, 100 * kMiB};
  EXPECT_TRUE(usage.fits(two_cpus));
  usage.add(two_cpus);
  EXPECT_TRUE(usage.fits(two_cpus));
  usage.add(two_cpus);
  EXPECT_FALSE(usage.fits(Demand{1, kMiB}));  // the CPUs are taken
  usage.remove(two_cpus);
  EXPECT_FALSE(usage.fits(Demand{1, 1000 * kMiB}));  // not enough memory left
  EXPECT_TRUE(usage.fits(Demand{1, 900 * kMiB}));
  usage.add(Demand{1, 10 * kMiB});
  usage.add(Demand{1, 10 * kMiB});
  EXPECT_EQ(usage.running(), 3U);
  EXPECT_FALSE(usage.fits(Demand{0, 0}));  // --jobs
}

TEST(FarmCapacity, OneJobAlwaysRunsHoweverLarge) {
  Usage usage(Capacity{2, 2, 100 * kMiB});
  EXPECT_TRUE(usage.fits(Demand{64, 4096 * kMiB}));
}

TEST(FarmCapacity, ExplicitJobsDoNotCountCpus) {
  const auto c = vmm::farm::host_capacity(5);
  EXPECT_EQ(c.max_jobs, 5U);
  EXPECT_EQ(c.cpus, UINT_MAX);
  Usage usage(c);
  for (int i = 0; i < 4; ++i) usage.add(Demand{8, kMiB});
  EXPECT_TRUE(usage.fits(Demand{8, kMiB}));
  const auto host = vmm::farm::host_capacity(0);
  EXPECT_EQ(host.max_jobs, host.cpus);
  EXPECT_GT(host.memory_bytes, 0U);
}

}  // namespace
