#include "instance/vm_process.hpp"

#include <charconv>
#include <fstream>
#include <sstream>

namespace vmm::instance {
namespace {

template <typename T>
std::optional<T> parse_number(std::string_view text) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<ProcessStat> parse_proc_stat(std::string_view text) {
  // "PID (COMM) STATE PPID ...": everything after the last ')' is space-separated numbers.
  const auto close = text.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(close + 1);
  // Fields from 3 (state) on; the start time is field 22.
  constexpr int kStateField = 3;
  constexpr int kStartTimeField = 22;
  ProcessStat stat;
  int field = kStateField;
  while (!rest.empty()) {
    const auto begin = rest.find_first_not_of(" \n");
    if (begin == std::string_view::npos) break;
    rest.remove_prefix(begin);
    const auto end = rest.find_first_of(" \n");
    const std::string_view word = rest.substr(0, end);
    if (field == kStateField) {
      if (word.size() != 1) return std::nullopt;
      stat.state = word.front();
    } else if (field == kStartTimeField) {
      const auto start = parse_number<uint64_t>(word);
      if (!start) return std::nullopt;
      stat.start_time = *start;
      return stat;
    }
    ++field;
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end);
  }
  return std::nullopt;
}

std::string pid_file_text(const ProcessIdentity& identity) {
  return std::to_string(identity.pid) + " " + std::to_string(identity.start_time) + "\n";
}

std::optional<ProcessIdentity> parse_pid_file(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  const auto space = text.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const auto pid = parse_number<pid_t>(text.substr(0, space));
  const auto start = parse_number<uint64_t>(text.substr(space + 1));
  if (!pid || !start || *pid <= 0) return std::nullopt;
  return ProcessIdentity{.pid = *pid, .start_time = *start};
}

std::optional<ProcessIdentity> identify_process(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  const auto stat = parse_proc_stat(text.str());
  if (!stat || stat->state == 'Z' || stat->state == 'X') return std::nullopt;
  return ProcessIdentity{.pid = pid, .start_time = stat->start_time};
}

bool process_alive(const ProcessIdentity& identity) {
  const auto now = identify_process(identity.pid);
  return now && now->start_time == identity.start_time;
}

}  // namespace vmm::instance
