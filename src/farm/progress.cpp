#include "farm/progress.hpp"

#include <chrono>
#include <string>

#include "farm/printable_text.hpp"

namespace vmm::farm {
namespace {

std::string result_line(const JobResult& result, bool final) {
  char time[32];
  std::snprintf(time, sizeof time, "%.1fs", result.seconds);
  std::string line = result.spec.name + ": ";
  line += final ? to_string(result.verdict.outcome) : "failed, retrying";
  line += " (attempt " + std::to_string(result.attempts) + ", " + time + ")";
  if (!result.verdict.reason.empty()) line += ": " + printable_text(result.verdict.reason);
  return line;
}

class PlainProgress final : public ProgressSink {
 public:
  explicit PlainProgress(std::FILE* out) : out_(out) {}
  void started(const JobSpec& job, unsigned attempt) override {
    std::fprintf(out_, "farm: %s: started (attempt %u)\n", job.name.c_str(), attempt);
    std::fflush(out_);
  }
  void finished(const JobResult& result, bool final) override {
    std::fprintf(out_, "farm: %s\n", result_line(result, final).c_str());
    std::fflush(out_);
  }
  void tick(const std::vector<std::string>& /*running*/, std::size_t /*done*/,
            std::size_t /*total*/) override {}

 private:
  std::FILE* out_;
};

class TerminalProgress final : public ProgressSink {
 public:
  explicit TerminalProgress(std::FILE* out) : out_(out) {}
  ~TerminalProgress() override {
    std::fprintf(out_, "\r\033[K");
    std::fflush(out_);
  }
  TerminalProgress(const TerminalProgress&) = delete;
  TerminalProgress& operator=(const TerminalProgress&) = delete;

  void started(const JobSpec& /*job*/, unsigned /*attempt*/) override {}
  void finished(const JobResult& result, bool final) override {
    const bool good = passed(result.verdict.outcome);
    const char* colour = !final ? "\033[33m" : good ? "\033[32m" : "\033[31m";
    std::fprintf(out_, "\r\033[K%s%s\033[0m\n", colour, result_line(result, final).c_str());
    std::fflush(out_);
  }
  void tick(const std::vector<std::string>& running, std::size_t done, std::size_t total) override {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    std::string names;
    for (const auto& n : running) names += (names.empty() ? "" : ", ") + n;
    constexpr std::size_t kMaxNames = 60;
    if (names.size() > kMaxNames) names = names.substr(0, kMaxNames - 3) + "...";
    std::fprintf(out_, "\r\033[K[%zu/%zu done] running: %s", done, total, names.c_str());
    std::fflush(out_);
  }

 private:
  std::FILE* out_;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace

std::unique_ptr<ProgressSink> make_progress(std::FILE* out, bool terminal) {
  if (terminal) return std::make_unique<TerminalProgress>(out);
  return std::make_unique<PlainProgress>(out);
}

}  // namespace vmm::farm
