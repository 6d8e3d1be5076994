// The SVG chart of a benchmark report (report_writers.hpp).
#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "bench/report_writers.hpp"

namespace vmm::bench {
namespace {

constexpr double kWidth = 1000;
constexpr double kLabelWidth = 230;
constexpr double kValueWidth = 150;
constexpr double kPlotLeft = kLabelWidth;
constexpr double kPlotRight = kWidth - kValueWidth;
constexpr double kRowHeight = 18;
constexpr double kTop = 84;
constexpr const char* kColors[] = {"#1f77b4", "#e6731a", "#2ca02c", "#9467bd"};

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string fmt(double v) {
  std::ostringstream s;
  s.precision(1);
  s << std::fixed << v;
  return s.str();
}

// The log axis: whole decades around every charted value.
struct Axis {
  double lo_decade = 0;
  double hi_decade = 1;
  [[nodiscard]] double x(double value) const {
    const double v = std::log10(std::max(value, std::pow(10.0, lo_decade)));
    return kPlotLeft + (v - lo_decade) / (hi_decade - lo_decade) * (kPlotRight - kPlotLeft);
  }
};

Axis axis_for(const Report& report) {
  double lo = 0;
  double hi = 0;
  bool any = false;
  for (const auto& r : report.results) {
    for (const auto& m : report.chart_metrics) {
      auto s = r.summary(m);
      if (!s) continue;
      const double a = std::max(s->min, 1e-3);
      const double b = std::max(s->max, 1e-3);
      lo = any ? std::min(lo, a) : a;
      hi = any ? std::max(hi, b) : b;
      any = true;
    }
  }
  if (!any) return {};
  Axis axis;
  axis.lo_decade = std::floor(std::log10(lo));
  axis.hi_decade = std::ceil(std::log10(hi));
  if (axis.hi_decade <= axis.lo_decade) axis.hi_decade = axis.lo_decade + 1;
  return axis;
}

// The unit a metric's values are in ("ms" when the report does not say).
std::string unit_of(const Report& report, const std::string& metric) {
  for (const auto& m : report.metrics) {
    if (m.name == metric) return m.unit;
  }
  return "ms";
}

// The axis of a rate chart is shared by MB/s and IOPS: its ticks are plain numbers.
std::string rate_tick_label(double value) {
  std::ostringstream s;
  if (value >= 1e6) {
    s << value / 1e6 << "M";
  } else if (value >= 1e3) {
    s << value / 1e3 << "k";
  } else {
    s << value;
  }
  return s.str();
}

std::string tick_label(double ms) {
  if (ms >= 1000) {
    std::ostringstream s;
    s << ms / 1000 << " s";
    return s.str();
  }
  std::ostringstream s;
  s << ms << " ms";
  return s.str();
}

}  // namespace

// The legend: one coloured entry per charted metric, as many to a line as fit (labels of the
// I/O benchmarks are long), so that none runs into the next or off the picture.
struct LegendEntry {
  std::string label;
  double x = 0;
  int line = 0;
};

std::vector<LegendEntry> legend_layout(const Report& report) {
  constexpr double kCharWidth = 7.0;  // a generous average at font-size 12
  std::vector<LegendEntry> entries;
  double x = kPlotLeft;
  int line = 0;
  for (const auto& metric : report.chart_metrics) {
    std::string label = metric;
    for (const auto& m : report.metrics) {
      if (m.name == metric) label = m.label;
    }
    const double width = 16 + kCharWidth * static_cast<double>(label.size()) + 24;
    if (x > kPlotLeft && x + width > kWidth - 10) {
      x = kPlotLeft;
      ++line;
    }
    entries.push_back({label, x, line});
    x += width;
  }
  return entries;
}

std::string report_svg(const Report& report) {
  const Axis axis = axis_for(report);
  const bool rates = rates_only(report);
  const auto legend = legend_layout(report);
  const double extra_lines = legend.empty() ? 0 : legend.back().line;
  const double top = kTop + kRowHeight * extra_lines;
  const std::size_t series = std::max<std::size_t>(report.chart_metrics.size(), 1);
  const double group_height = kRowHeight * static_cast<double>(series) + 10;
  const double plot_bottom = top + group_height * static_cast<double>(report.results.size());
  const double height = plot_bottom + 60;

  std::ostringstream svg;
  svg << R"(<?xml version="1.0" encoding="UTF-8"?>)" << '\n'
      << R"(<svg xmlns="http://www.w3.org/2000/svg" width=")" << kWidth << R"(" height=")"
      << fmt(height) << R"(" viewBox="0 0 )" << kWidth << ' ' << fmt(height)
      << R"(" font-family="sans-serif" font-size="12">)" << '\n'
      << R"(<rect width="100%" height="100%" fill="white"/>)" << '\n';
  std::string title = "vmm bench " + report.benchmark + ": " + std::to_string(report.runs) +
                      (report.runs == 1 ? " run" : " runs") + " of each scenario";
  if (auto it = report.host.find("place"); it != report.host.end()) title += ", " + it->second;
  svg << R"(<text x="10" y="22" font-size="16" font-weight="bold">)" << escape(title)
      << "</text>\n";
  for (std::size_t i = 0; i < legend.size(); ++i) {
    const double y = 34 + kRowHeight * legend[i].line;
    svg << R"(<rect x=")" << fmt(legend[i].x) << R"(" y=")" << fmt(y)
        << R"(" width="12" height="12" fill=")" << kColors[i % 4] << R"("/>)"
        << R"(<text x=")" << fmt(legend[i].x + 16) << R"(" y=")" << fmt(y + 11) << R"(">)"
        << escape(legend[i].label) << "</text>\n";
  }
  svg << R"(<text x=")" << fmt(kPlotLeft) << R"(" y=")" << fmt(64 + kRowHeight * extra_lines)
      << R"(" fill="#555">)"
      << R"(min-max whiskers, p95 bar, median dot (its value on the right)</text>)" << '\n';

  // Grid: 1, 2 and 5 of each decade.
  const auto decades = static_cast<int>(axis.hi_decade - axis.lo_decade);
  for (int step = 0; step <= decades; ++step) {
    const double d = axis.lo_decade + step;
    for (double m : {1.0, 2.0, 5.0}) {
      const double value = m * std::pow(10.0, d);
      if (std::log10(value) > axis.hi_decade + 1e-9) break;
      const double x = axis.x(value);
      svg << R"(<line x1=")" << fmt(x) << R"(" y1=")" << fmt(top - 6) << R"(" x2=")" << fmt(x)
          << R"(" y2=")" << fmt(plot_bottom) << R"(" stroke=")" << (m == 1.0 ? "#bbb" : "#e5e5e5")
          << R"("/>)";
      svg << R"(<text x=")" << fmt(x) << R"(" y=")" << fmt(plot_bottom + 16)
          << R"(" text-anchor="middle" fill="#444">)"
          << escape(rates ? rate_tick_label(value) : tick_label(value)) << "</text>\n";
    }
  }
  svg << R"(<text x=")" << fmt((kPlotLeft + kPlotRight) / 2) << R"(" y=")" << fmt(plot_bottom + 38)
      << R"(" text-anchor="middle">)"
      << (rates ? "rate (log scale, higher is better)" : "time (log scale)") << "</text>\n";

  double y = top;
  for (std::size_t row = 0; row < report.results.size(); ++row) {
    const auto& r = report.results[row];
    if (row % 2 == 1) {
      svg << R"(<rect x="0" y=")" << fmt(y - 4) << R"(" width=")" << kWidth << R"(" height=")"
          << fmt(group_height) << R"(" fill="#f6f6f6"/>)" << '\n';
    }
    svg << R"(<text x="10" y=")" << fmt(y + group_height / 2) << R"(">)" << escape(r.scenario.name)
        << "</text>\n";
    if (r.status() != "measured") {
      const std::string why =
          r.status() + ": " +
          (r.scenario.skipped ? *r.scenario.skipped : (r.failures.empty() ? "" : r.failures[0]));
      svg << R"(<text x=")" << fmt(kPlotLeft + 4) << R"(" y=")" << fmt(y + group_height / 2)
          << R"(" fill="#888" font-style="italic">)"
          << escape(why.size() > 110 ? why.substr(0, 108) + "..." : why) << "</text>\n";
      y += group_height;
      continue;
    }
    for (std::size_t i = 0; i < report.chart_metrics.size(); ++i) {
      const auto s = r.summary(report.chart_metrics[i]);
      const double cy = y + kRowHeight * static_cast<double>(i) + kRowHeight / 2;
      if (!s) continue;
      const char* color = kColors[i % 4];
      const std::string unit = " " + unit_of(report, report.chart_metrics[i]);
      const double x0 = axis.x(s->min);
      const double x1 = axis.x(s->max);
      svg << "<g><title>" << escape(r.scenario.name + " " + report.chart_metrics[i]) << ": min "
          << format_number(s->min) << ", median " << format_number(s->median) << ", p95 "
          << format_number(s->p95) << ", max " << format_number(s->max) << escape(unit)
          << "</title>";
      svg << R"(<line x1=")" << fmt(x0) << R"(" y1=")" << fmt(cy) << R"(" x2=")" << fmt(x1)
          << R"(" y2=")" << fmt(cy) << R"(" stroke=")" << color << R"(" stroke-width="2"/>)";
      for (double x : {x0, x1}) {
        svg << R"(<line x1=")" << fmt(x) << R"(" y1=")" << fmt(cy - 5) << R"(" x2=")" << fmt(x)
            << R"(" y2=")" << fmt(cy + 5) << R"(" stroke=")" << color << R"(" stroke-width="2"/>)";
      }
      const double xp = axis.x(s->p95);
      svg << R"(<rect x=")" << fmt(xp - 1.5) << R"(" y=")" << fmt(cy - 6)
          << R"(" width="3" height="12" fill=")" << color << R"("/>)";
      svg << R"(<circle cx=")" << fmt(axis.x(s->median)) << R"(" cy=")" << fmt(cy)
          << R"(" r="4.5" fill=")" << color << R"(" stroke="white"/>)";
      svg << R"(<text x=")" << fmt(kPlotRight + 8) << R"(" y=")" << fmt(cy + 4) << R"(" fill=")"
          << color << R"(">)" << format_number(s->median) << escape(unit) << "</text></g>\n";
    }
    y += group_height;
  }
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace vmm::bench
