#pragma once
// LXD-style operations: a long request (create, start, stop, exec, snapshot) returns at once with
// an operation that a worker thread carries out; clients poll it or wait on it. Finished
// operations are kept for a while (the newest 1000) so a late waiter still reads the result.
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace vmm::daemon {

enum class OperationStatus { kRunning, kSuccess, kFailure };

// NOLINTNEXTLINE(bugprone-exception-escape): json's moves are noexcept; the check cannot see it
struct OperationSnapshot {
  std::string id;
  std::string description;
  OperationStatus status = OperationStatus::kRunning;
  std::string created_at;
  std::string updated_at;
  nlohmann::json resources;  // {"instances": ["/1.0/instances/NAME"]}
  nlohmann::json metadata;   // what the task returned
  std::string error;
  unsigned error_code = 0;  // the HTTP status of the failure
};

// The operation object as LXD's API shows it.
[[nodiscard]] nlohmann::json to_json(const OperationSnapshot& op);

class Operations final {
 public:
  // A task returns its metadata or throws; its exception becomes the failure.
  using Task = std::function<nlohmann::json()>;
  using Waiter = std::function<void(const OperationSnapshot&)>;

  explicit Operations(size_t workers);
  Operations(const Operations&) = delete;
  Operations& operator=(const Operations&) = delete;
  ~Operations();  // waits for running tasks

  OperationSnapshot submit(std::string description, nlohmann::json resources, Task task);
  [[nodiscard]] std::optional<OperationSnapshot> get(const std::string& id) const;
  [[nodiscard]] std::vector<OperationSnapshot> list() const;
  // Calls `done` once: when the operation ends, or with its state when `timeout` passes first.
  // Returns false (and never calls it) for an unknown id.
  bool wait(const std::string& id, std::chrono::milliseconds timeout, const Waiter& done);
  // Blocks until the operation ends or the timeout passes; nullopt for an unknown id.
  std::optional<OperationSnapshot> wait_blocking(const std::string& id,
                                                 std::chrono::milliseconds timeout);

 private:
  struct Entry;
  void finish(const std::shared_ptr<Entry>& entry, nlohmann::json metadata, std::string error,
              unsigned code);

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;
  std::deque<std::string> finished_order_;
  boost::asio::io_context timers_;  // the timeouts of waits, on a thread of their own
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread timer_thread_;
  boost::asio::thread_pool pool_;
};

}  // namespace vmm::daemon
