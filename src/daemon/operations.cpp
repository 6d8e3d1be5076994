#include "daemon/operations.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "daemon/error_status.hpp"
#include "instance/timestamps.hpp"
#include "vmm/common/uuid.hpp"

namespace vmm::daemon {
namespace {

using nlohmann::json;
constexpr size_t kKeptFinished = 1000;

const char* status_text(OperationStatus s) {
  switch (s) {
    case OperationStatus::kSuccess:
      return "Success";
    case OperationStatus::kFailure:
      return "Failure";
    case OperationStatus::kRunning:
      break;
  }
  return "Running";
}

unsigned status_code(OperationStatus s) {
  switch (s) {
    case OperationStatus::kSuccess:
      return 200;
    case OperationStatus::kFailure:
      return 400;
    case OperationStatus::kRunning:
      break;
  }
  return 103;
}

}  // namespace

json to_json(const OperationSnapshot& op) {
  return json{{"id", op.id},
              {"class", "task"},
              {"description", op.description},
              {"created_at", op.created_at},
              {"updated_at", op.updated_at},
              {"status", status_text(op.status)},
              {"status_code", status_code(op.status)},
              {"resources", op.resources.is_null() ? json::object() : op.resources},
              {"metadata", op.metadata},
              {"may_cancel", false},
              {"err", op.error},
              {"location", "none"}};
}

// NOLINTNEXTLINE(bugprone-exception-escape): as OperationSnapshot's
struct Operations::Entry {
  OperationSnapshot state;
  std::vector<std::pair<std::shared_ptr<bool>, Waiter>> waiters;  // bool: already answered
};

Operations::Operations(size_t workers) : pool_(workers) {
  work_.emplace(timers_.get_executor());
  timer_thread_ = std::thread([this] { timers_.run(); });
}

Operations::~Operations() {
  pool_.join();
  work_.reset();
  timers_.stop();
  if (timer_thread_.joinable()) timer_thread_.join();
}

OperationSnapshot Operations::submit(std::string description, json resources, Task task) {
  auto entry = std::make_shared<Entry>();
  entry->state.id = to_string(random_uuid());
  entry->state.description = std::move(description);
  entry->state.resources = std::move(resources);
  entry->state.created_at = instance::rfc3339_now();
  entry->state.updated_at = entry->state.created_at;
  OperationSnapshot snapshot;
  {
    std::lock_guard lock(mutex_);
    entries_[entry->state.id] = entry;
    snapshot = entry->state;
  }
  boost::asio::post(pool_, [this, entry, task = std::move(task)] {
    try {
      json metadata = task();
      finish(entry, std::move(metadata), {}, 0);
    } catch (const std::exception& e) {
      finish(entry, json(), e.what(), http_status_of(e));
    }
  });
  return snapshot;
}

void Operations::finish(const std::shared_ptr<Entry>& entry, json metadata, std::string error,
                        unsigned code) {
  std::vector<Waiter> waiters;
  OperationSnapshot snapshot;
  {
    std::lock_guard lock(mutex_);
    entry->state.status = error.empty() ? OperationStatus::kSuccess : OperationStatus::kFailure;
    entry->state.metadata = std::move(metadata);
    entry->state.error = std::move(error);
    entry->state.error_code = code;
    entry->state.updated_at = instance::rfc3339_now();
    snapshot = entry->state;
    for (auto& [answered, waiter] : entry->waiters) {
      if (!std::exchange(*answered, true)) waiters.push_back(std::move(waiter));
    }
    entry->waiters.clear();
    finished_order_.push_back(entry->state.id);
    while (finished_order_.size() > kKeptFinished) {
      entries_.erase(finished_order_.front());
      finished_order_.pop_front();
    }
  }
  changed_.notify_all();
  for (auto& waiter : waiters) waiter(snapshot);
}

std::optional<OperationSnapshot> Operations::get(const std::string& id) const {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  return it->second->state;
}

std::vector<OperationSnapshot> Operations::list() const {
  std::lock_guard lock(mutex_);
  std::vector<OperationSnapshot> all;
  all.reserve(entries_.size());
  for (const auto& [id, entry] : entries_) all.push_back(entry->state);
  return all;
}

bool Operations::wait(const std::string& id, std::chrono::milliseconds timeout,
                      const Waiter& done) {
  std::unique_lock lock(mutex_);
  const auto it = entries_.find(id);
  if (it == entries_.end()) return false;
  const auto entry = it->second;
  if (entry->state.status != OperationStatus::kRunning) {
    const OperationSnapshot snapshot = entry->state;
    lock.unlock();
    done(snapshot);
    return true;
  }
  // The answered flag is shared by the two ways this wait can end (the operation finishing, the
  // timer firing); both set it under mutex_, so exactly one answers.
  auto answered = std::make_shared<bool>(false);
  entry->waiters.emplace_back(answered, done);
  auto timer = std::make_shared<boost::asio::steady_timer>(timers_, timeout);
  timer->async_wait([this, entry, answered, done, timer](const boost::system::error_code&) {
    OperationSnapshot snapshot;
    {
      std::lock_guard guard(mutex_);
      if (*answered) return;
      *answered = true;
      snapshot = entry->state;
    }
    done(snapshot);
  });
  return true;
}

std::optional<OperationSnapshot> Operations::wait_blocking(const std::string& id,
                                                           std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  const auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  const auto entry = it->second;
  changed_.wait_for(lock, timeout,
                    [&] { return entry->state.status != OperationStatus::kRunning; });
  return entry->state;
}

}  // namespace vmm::daemon
