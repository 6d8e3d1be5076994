#pragma once
// The `vmm run` process of a running VM instance, known by its pid and its start time: the
// pair survives a daemon restart (kept in a file in the instance directory), and a pid the
// kernel gave to another process since is never taken for the VM.
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vmm::instance {

struct ProcessIdentity {
  pid_t pid = 0;
  uint64_t start_time = 0;  // clock ticks after boot, field 22 of /proc/PID/stat

  bool operator==(const ProcessIdentity&) const = default;
};

struct ProcessStat {
  char state = '?';  // R, S, D, Z, ...
  uint64_t start_time = 0;
};
// The state and start time from the text of /proc/PID/stat; nullopt when it is damaged. The
// command name in parentheses may hold spaces and parentheses itself.
[[nodiscard]] std::optional<ProcessStat> parse_proc_stat(std::string_view text);

// "PID START_TIME\n", the pid file's text; and back (nullopt when damaged).
[[nodiscard]] std::string pid_file_text(const ProcessIdentity& identity);
[[nodiscard]] std::optional<ProcessIdentity> parse_pid_file(std::string_view text);

// The identity of a live process; nullopt when there is none by that pid (or a zombie).
[[nodiscard]] std::optional<ProcessIdentity> identify_process(pid_t pid);
// Whether the process still lives: same pid, same start time, not a zombie.
[[nodiscard]] bool process_alive(const ProcessIdentity& identity);

}  // namespace vmm::instance
