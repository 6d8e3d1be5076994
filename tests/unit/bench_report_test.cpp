// vmm bench: percentiles and ratios on known samples, and the outputs agreeing to the digit.
#include <gtest/gtest.h>

#include <sstream>

#include "bench/process_memory.hpp"
#include "bench/report_writers.hpp"
#include "bench/scenario.hpp"
#include "bench/scenario_set.hpp"
#include "bench/stats.hpp"
#include "bench/workspace.hpp"
#include "bench_output_check.hpp"
#include "vmm/common/error.hpp"

namespace vmm::bench {
namespace {

TEST(BenchStats, NearestRankPercentiles) {
  const std::vector<double> ten = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(nearest_rank(ten, 95), 10);
  EXPECT_EQ(nearest_rank(ten, 90), 9);
  EXPECT_EQ(nearest_rank(ten, 50), 5);
  EXPECT_EQ(nearest_rank(ten, 10), 1);
  EXPECT_EQ(nearest_rank(ten, 1), 1);
  std::vector<double> twenty;
  for (int i = 1; i <= 20; ++i) twenty.push_back(i * 10);
  EXPECT_EQ(nearest_rank(twenty, 95), 190);  // ceil(0.95 * 20) = 19th
  EXPECT_EQ(nearest_rank({}, 50), std::nullopt);
  EXPECT_EQ(nearest_rank(ten, 0), std::nullopt);
  EXPECT_EQ(nearest_rank(ten, 101), std::nullopt);
}

TEST(BenchStats, SummaryOfUnsortedSamples) {
  auto odd = summarize({30, 10, 50, 20, 40});
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->count, 5U);
  EXPECT_EQ(odd->min, 10);
  EXPECT_EQ(odd->median, 30);
  EXPECT_EQ(odd->p95, 50);
  EXPECT_EQ(odd->max, 50);
  auto even = summarize({4, 1, 3, 2});
  ASSERT_TRUE(even);
  EXPECT_DOUBLE_EQ(even->median, 2.5);  // the mean of the middle two
  EXPECT_EQ(even->p95, 4);
  auto one = summarize({7.25});
  ASSERT_TRUE(one);
  EXPECT_EQ(one->min, 7.25);
  EXPECT_EQ(one->median, 7.25);
  EXPECT_EQ(one->p95, 7.25);
  EXPECT_FALSE(summarize({}));
}

TEST(BenchStats, Ratios) {
  EXPECT_DOUBLE_EQ(*ratio(15.0, 20.0), 0.75);
  EXPECT_DOUBLE_EQ(*ratio(30.0, 20.0), 1.5);
  EXPECT_FALSE(ratio(std::nullopt, 20.0));
  EXPECT_FALSE(ratio(1.0, std::nullopt));
  EXPECT_FALSE(ratio(1.0, 0.0));
}

TEST(BenchStats, NumbersAreRoundedOnceForEveryOutput) {
  EXPECT_EQ(format_number(12.3456), "12.346");
  EXPECT_EQ(format_number(0.0004), "0.000");
  EXPECT_DOUBLE_EQ(rounded(12.3456), 12.346);
}

Report sample_report() {
  Report report;
  report.benchmark = "startup";
  report.runs = 4;
  report.baseline = "runc-run";
  report.metrics = {{"ready_ms", "ms", "ready"}, {"exit_ms", "ms", "exit"}};
  report.ratio_metrics = {"ready_ms"};
  report.chart_metrics = {"ready_ms", "exit_ms"};
  auto add = [&](const std::string& name, const std::string& peer,
                 const std::vector<double>& ready) {
    ScenarioResult r;
    r.scenario.name = name;
    r.scenario.kind = "container";
    r.scenario.peer = peer;
    for (double v : ready) r.samples.push_back({{"ready_ms", v}, {"exit_ms", v + 1.5}});
    report.results.push_back(std::move(r));
  };
  add("vmm-container-run", "runc-run", {20, 10, 40, 30});  // median 25
  add("runc-run", "", {50, 60, 40, 70});                   // median 55
  ScenarioResult skipped;
  skipped.scenario.name = "crun-run";
  skipped.scenario.kind = "container";
  skipped.scenario.skipped = "crun is not installed, \"quoted\"";
  report.results.push_back(std::move(skipped));
  return report;
}

TEST(BenchReport, RatiosOfMediansToBaselineAndPeer) {
  const auto report = sample_report();
  EXPECT_DOUBLE_EQ(*report.median_ratio("vmm-container-run", "runc-run", "ready_ms"), 25.0 / 55.0);
  EXPECT_DOUBLE_EQ(*report.median_ratio("runc-run", "runc-run", "ready_ms"), 1.0);
  EXPECT_FALSE(report.median_ratio("crun-run", "runc-run", "ready_ms"));
  EXPECT_FALSE(report.median_ratio("vmm-container-run", "", "ready_ms"));
  const auto j = report_json(report);
  const auto& vmm = j["scenarios"][0];
  EXPECT_EQ(vmm["summary"]["ready_ms"]["median"], 25.0);
  EXPECT_EQ(vmm["summary"]["ready_ms"]["p95"], 40.0);
  EXPECT_EQ(vmm["ratio_to_baseline"]["ready_ms"], rounded(25.0 / 55.0));
  EXPECT_EQ(vmm["ratio_to_peer"]["ready_ms"], rounded(25.0 / 55.0));
  EXPECT_TRUE(j["scenarios"][1]["ratio_to_peer"]["ready_ms"].is_null());
}

TEST(BenchReport, JsonCsvAndSvgAgree) {
  const auto report = sample_report();
  const auto j = report_json(report);
  const auto csv = report_csv(report);
  const auto svg = report_svg(report);
  std::istringstream lines(csv);
  std::string line;
  ASSERT_TRUE(std::getline(lines, line));
  const auto header = vmm::test::bench::csv_fields(line);
  auto column = [&](const std::string& name) {
    for (std::size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name) return i;
    }
    ADD_FAILURE() << "no column " << name;
    return std::size_t{0};
  };
  std::size_t row = 0;
  while (std::getline(lines, line)) {
    const auto f = vmm::test::bench::csv_fields(line);
    ASSERT_EQ(f.size(), header.size()) << line;
    const auto& s = j["scenarios"][row++];
    EXPECT_EQ(f[column("scenario")], s["name"]);
    EXPECT_EQ(f[column("status")], s["status"]);
    if (s["status"] == "skipped") {
      EXPECT_EQ(f[column("reason")], s["reason"]);
      EXPECT_NE(svg.find("skipped: crun is not installed, &quot;quoted&quot;"), std::string::npos);
      continue;
    }
    for (const char* metric : {"ready_ms", "exit_ms"}) {
      for (const char* stat : {"min", "median", "p95", "max"}) {
        EXPECT_EQ(std::stod(f[column(std::string(metric) + "_" + stat)]),
                  s["summary"][metric][stat].get<double>())
            << metric << " " << stat;
      }
      // The chart writes each median as the CSV does.
      const std::string median = f[column(std::string(metric) + "_median")];
      EXPECT_NE(svg.find(">" + median + " ms<"), std::string::npos) << median;
    }
    const auto ratio_text = f[column("ready_ms_ratio_to_baseline")];
    EXPECT_EQ(std::stod(ratio_text), s["ratio_to_baseline"]["ready_ms"].get<double>());
  }
  EXPECT_EQ(row, 3U);
  EXPECT_EQ(svg.rfind("</svg>\n"), svg.size() - 7);
}

TEST(BenchReport, SavedJsonGivesTheSameOutputsBack) {
  const auto report = sample_report();
  const auto again = report_from_json(report_json(report));
  EXPECT_EQ(report_json(again), report_json(report));
  EXPECT_EQ(report_csv(again), report_csv(report));
  EXPECT_EQ(report_svg(again), report_svg(report));
  EXPECT_THROW((void)report_from_json(nlohmann::json{{"benchmark", "startup"}}), ConfigError);
}

// A rate report (the I/O benchmarks): every long legend label is drawn whole, inside the
// picture and clear of the next; values carry their units; the table says higher is better.
TEST(BenchReport, RateReportLegendFitsAndNamesUnits) {
  Report report;
  report.benchmark = "blk";
  report.runs = 1;
  report.baseline = "qemu-blk";
  for (const char* name : {"a_MBps", "b_MBps", "c_IOPS", "d_IOPS"}) {
    const std::string unit = std::string(name).ends_with("IOPS") ? "IOPS" : "MB/s";
    report.metrics.push_back({name, unit, std::string("a long label for ") + name + ", depth 32"});
    report.chart_metrics.emplace_back(name);
  }
  Scenario vmm;
  vmm.name = "vmm-blk";
  vmm.kind = "vm";
  report.add({vmm});
  report.results[0].record({{"a_MBps", 200}, {"b_MBps", 210}, {"c_IOPS", 1500}, {"d_IOPS", 2800}});
  const auto svg = report_svg(report);
  std::vector<double> legend_x;
  for (std::size_t at = 0; (at = svg.find("<rect x=\"", at)) != std::string::npos; ++at) {
    const auto end = svg.find('"', at + 9);
    const std::string tail = svg.substr(end, 40);
    if (tail.find("width=\"12\"") != std::string::npos) {
      legend_x.push_back(std::stod(svg.substr(at + 9, end - at - 9)));
    }
  }
  ASSERT_EQ(legend_x.size(), 4U) << svg;
  for (const auto& m : report.metrics) {
    EXPECT_NE(svg.find(">" + m.label + "<"), std::string::npos) << m.label;
    // ~7 px a character: the label ends inside the 1000 px picture.
  }
  for (std::size_t i = 0; i < legend_x.size(); ++i) {
    EXPECT_LT(legend_x[i] + 16 + 7.0 * static_cast<double>(report.metrics[i].label.size()), 1000)
        << "legend entry " << i << " runs off the picture";
    if (i > 0 && legend_x[i] > legend_x[i - 1]) {
      EXPECT_GE(legend_x[i] - legend_x[i - 1],
                16 + 7.0 * static_cast<double>(report.metrics[i - 1].label.size()))
          << "legend entry " << i << " overlaps the one before";
    }
  }
  EXPECT_NE(svg.find("2800.000 IOPS"), std::string::npos);
  EXPECT_NE(svg.find("200.000 MB/s"), std::string::npos);
  EXPECT_NE(svg.find("higher is better"), std::string::npos);
  EXPECT_NE(report_table(report).find("higher is better"), std::string::npos);
}

TEST(BenchScenarios, IdIsSubstitutedEverywhere) {
  EXPECT_EQ(with_id({"runc", "--root", "/s/{id}", "run", "{id}", "x{id}y{id}"}, "b-1"),
            (std::vector<std::string>{"runc", "--root", "/s/b-1", "run", "b-1", "xb-1yb-1"}));
}

// Each vmm VM scenario has an unconfined twin whose peer is the confined run; with no kernel
// here both are skipped for the same reason.
// The startup scenarios named `only`, on a host without the guest kernels (so every VM
// scenario is listed, skipped).
std::vector<Scenario> vm_scenarios_without_kernels(std::vector<std::string> only) {
  BenchOptions o;
  o.vmm = "/usr/bin/vmm";
  o.initrd = "/nonexistent/initrd";
  o.kernel = "/nonexistent/bzImage";
  o.minimal_kernel = "/nonexistent/minimal";
  o.only = std::move(only);
  Workspace ws(o.vmm);
  return startup_scenarios(o, ws);
}

TEST(BenchScenarios, EachVmmVmHasASeccompOffTwinComparedWithIt) {
  const auto list = vm_scenarios_without_kernels(
      {"vmm-vm-minimal", "vmm-vm-minimal-seccomp-off", "vmm-vm-stock-seccomp-off"});
  ASSERT_EQ(list.size(), 3U);
  const Scenario& confined = list[0];
  const Scenario& off = list[1];
  EXPECT_EQ(off.name, "vmm-vm-minimal-seccomp-off");
  EXPECT_EQ(off.peer, "vmm-vm-minimal");
  EXPECT_TRUE(off.ours);
  ASSERT_GE(off.argv.size(), 4U);
  EXPECT_EQ((std::vector<std::string>(off.argv.begin(), off.argv.begin() + 4)),
            (std::vector<std::string>{"/usr/bin/vmm", "run", "--seccomp", "off"}));
  // Everything else is the confined run's command.
  std::vector<std::string> rest = off.argv;
  rest.erase(rest.begin() + 2, rest.begin() + 4);
  EXPECT_EQ(rest, confined.argv);
  ASSERT_TRUE(off.skipped.has_value());
  EXPECT_EQ(off.skipped, confined.skipped);
  EXPECT_EQ(list[2].peer, "vmm-vm-stock");
}

TEST(BenchScenarios, EachVmmVmHasAJailedTwinComparedWithThePlainRun) {
  const auto list =
      vm_scenarios_without_kernels({"vmm-vm-minimal", "vmm-vm-minimal-jail", "vmm-vm-stock-jail"});
  ASSERT_EQ(list.size(), 3U);
  const Scenario& plain = list[0];
  const Scenario& jailed = list[1];
  EXPECT_EQ(jailed.name, "vmm-vm-minimal-jail");
  EXPECT_EQ(jailed.peer, "vmm-vm-minimal");
  ASSERT_GE(jailed.argv.size(), 3U);
  EXPECT_EQ((std::vector<std::string>(jailed.argv.begin(), jailed.argv.begin() + 3)),
            (std::vector<std::string>{"/usr/bin/vmm", "run", "--jail"}));
  std::vector<std::string> rest = jailed.argv;
  rest.erase(rest.begin() + 2);
  EXPECT_EQ(rest, plain.argv);
  EXPECT_TRUE(jailed.skipped.has_value()) << "no kernel here";
  EXPECT_EQ(list[2].peer, "vmm-vm-stock");
}

TEST(BenchMemory, GuestRamIsTheMappingOfItsSize) {
  const std::string smaps =
      "7f0000000000-7f0010000000 rw-s 00000000 00:01 1 /memfd:guest-ram (deleted)\n"
      "Size:             262144 kB\n"
      "Rss:               40960 kB\n"
      "Pss:               40960 kB\n"
      "55d000000000-55d000100000 r-xp 00000000 08:01 2 /usr/bin/vmm\n"
      "Size:               1024 kB\n"
      "Rss:                 900 kB\n"
      "Pss:                 300 kB\n"
      "7f1000000000-7f1000200000 rw-p 00000000 00:00 0\n"
      "Size:               2048 kB\n"
      "Rss:                2048 kB\n"
      "Pss:                2048 kB\n";
  const auto m = parse_vm_smaps(smaps, uint64_t{256} * 1024);
  EXPECT_DOUBLE_EQ(m.guest_touched_mib, 40.0);
  EXPECT_DOUBLE_EQ(m.pss_mib, (40960.0 + 300 + 2048) / 1024);
  EXPECT_DOUBLE_EQ(m.overhead_mib, (300.0 + 2048) / 1024);
  EXPECT_DOUBLE_EQ(m.overhead_rss_mib, (900.0 + 2048) / 1024);
}

}  // namespace
}  // namespace vmm::bench
