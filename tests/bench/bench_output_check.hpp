#pragma once
// Checks of `vmm bench startup --out DIR` as a user would make them: the JSON, the CSV and the
// SVG describe the same runs to the digit, every scenario is measured or skipped with a
// reason, the ratios are the medians' quotients, and librsvg renders the chart.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace vmm::test::bench {

// Every scenario `vmm bench startup` knows, in its order.
inline const std::vector<std::string> kStartupScenarios = {"vmm-vm-minimal",
                                                           "vmm-vm-minimal-seccomp-off",
                                                           "vmm-vm-minimal-jail",
                                                           "qemu-microvm-minimal",
                                                           "qemu-pc-minimal",
                                                           "vmm-vm-stock",
                                                           "vmm-vm-stock-seccomp-off",
                                                           "vmm-vm-stock-jail",
                                                           "qemu-microvm-stock",
                                                           "qemu-pc-stock",
                                                           "vmm-container-run",
                                                           "vmm-oci-run",
                                                           "runc-run",
                                                           "crun-run",
                                                           "podman-runc",
                                                           "podman-crun",
                                                           "podman-vmm",
                                                           "floor"};

struct CommandResult {
  int status = -1;
  std::string output;
};

// Runs a shell command line, its stdout captured (stderr passes through).
inline CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) r.output.append(buf, n);
  const int status = ::pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// One CSV record's fields (RFC 4180 quoting).
inline std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      fields.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

inline std::string three_decimals(double v) {
  char text[64];
  std::snprintf(text, sizeof text, "%.3f", v);
  return text;
}

// `must_measure`: scenarios that must have been measured in every run.
// `listed`: the scenarios the run was given (--scenarios), in the tool's order; all by default.
inline void check_startup_outputs(const std::filesystem::path& dir, unsigned runs,
                                  const std::set<std::string>& must_measure,
                                  const std::vector<std::string>& listed = kStartupScenarios) {
  const auto j = nlohmann::json::parse(read_text(dir / "startup.json"));
  EXPECT_EQ(j["benchmark"], "startup");
  EXPECT_EQ(j["runs"], runs);
  const auto& scenarios = j["scenarios"];
  ASSERT_EQ(scenarios.size(), listed.size());
  std::map<std::string, nlohmann::json> by_name;
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    const auto& s = scenarios[i];
    const std::string name = s["name"];
    EXPECT_EQ(name, listed[i]);
    by_name[name] = s;
    const std::string status = s["status"];
    EXPECT_TRUE(status == "measured" || status == "skipped") << name << ": " << s.dump();
    if (status == "skipped") {
      EXPECT_FALSE(s.value("reason", "").empty()) << name;
      EXPECT_TRUE(s["samples"].empty()) << name;
      continue;
    }
    EXPECT_EQ(s["samples"].size(), runs) << name << ": " << s["failures"].dump();
    for (const auto& sample : s["samples"]) {
      EXPECT_GT(sample["ready_ms"].get<double>(), 0) << name;
      EXPECT_LE(sample["ready_ms"].get<double>(), sample["exit_ms"].get<double>()) << name;
      EXPECT_GT(sample["peak_rss_mib"].get<double>(), 0) << name;
    }
  }
  for (const auto& name : must_measure) {
    EXPECT_EQ(by_name[name]["status"], "measured") << name << ": " << by_name[name].dump();
  }

  // Ratios: the quotient of the medians as printed.
  const std::string baseline = j["baseline"];
  for (const auto& [name, s] : by_name) {
    if (s["status"] != "measured") continue;
    for (const std::string metric : {"ready_ms", "exit_ms"}) {
      const auto& base = by_name[baseline];
      const auto& r = s["ratio_to_baseline"][metric];
      if (base["status"] != "measured") {
        EXPECT_TRUE(r.is_null()) << name;
        continue;
      }
      const double expected = s["summary"][metric]["median"].get<double>() /
                              base["summary"][metric]["median"].get<double>();
      EXPECT_NEAR(r.get<double>(), expected, 0.0005 + 1e-9) << name << " " << metric;
    }
  }

  // CSV: one row per scenario, the same figures.
  std::istringstream csv(read_text(dir / "startup.csv"));
  std::string line;
  ASSERT_TRUE(std::getline(csv, line));
  const auto header = csv_fields(line);
  auto col = [&](const std::string& name) {
    for (std::size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name) return i;
    }
    ADD_FAILURE() << "startup.csv has no column " << name;
    return std::size_t{0};
  };
  std::size_t rows = 0;
  const std::string svg = read_text(dir / "startup.svg");
  while (std::getline(csv, line)) {
    const auto f = csv_fields(line);
    ASSERT_EQ(f.size(), header.size()) << line;
    const auto& s = scenarios[rows++];
    EXPECT_EQ(f[col("scenario")], s["name"]);
    EXPECT_EQ(f[col("status")], s["status"]);
    EXPECT_NE(svg.find(">" + f[col("scenario")] + "<"), std::string::npos) << f[col("scenario")];
    if (s["status"] != "measured") {
      EXPECT_EQ(f[col("reason")], s["reason"]);
      continue;
    }
    for (const std::string metric : {"ready_ms", "exit_ms", "cpu_ms", "peak_rss_mib"}) {
      for (const std::string stat : {"min", "median", "p95", "max"}) {
        const auto& text = f[col(metric + "_" + stat)];
        ASSERT_FALSE(text.empty()) << s["name"] << " " << metric << "_" << stat;
        EXPECT_EQ(text, three_decimals(s["summary"][metric][stat].get<double>()))
            << s["name"] << " " << metric << "_" << stat;
      }
    }
    for (const std::string metric : {"ready_ms", "exit_ms"}) {
      const auto median = f[col(metric + "_median")];
      EXPECT_NE(svg.find(">" + median + " ms<"), std::string::npos)
          << s["name"] << ": the chart lacks the median " << median;
      const auto& ratio = s["ratio_to_baseline"][metric];
      const auto& text = f[col(metric + "_ratio_to_baseline")];
      if (ratio.is_null()) {
        EXPECT_TRUE(text.empty());
      } else {
        EXPECT_EQ(text, three_decimals(ratio.get<double>()));
      }
    }
  }
  EXPECT_EQ(rows, scenarios.size());

  // A real renderer turns the chart into a PNG.
  const auto png = dir / "startup.png";
  const auto rendered = run_command("rsvg-convert '" + (dir / "startup.svg").string() + "' -o '" +
                                    png.string() + "' 2>&1");
  EXPECT_EQ(rendered.status, 0) << "rsvg-convert (librsvg2-bin): " << rendered.output;
  EXPECT_EQ(read_text(png).substr(0, 4), "\x89PNG");
}

}  // namespace vmm::test::bench
