#pragma once
// The daemon's REST API, after LXD's: /1.0/instances, /1.0/images, /1.0/operations, with LXD's
// sync / async / error envelopes. Requests are checked (JSON, names, existence) before anything
// happens and answered at once; long actions run as operations.
#include <string>

#include "api/api_server.hpp"
#include "daemon/operations.hpp"
#include "instance/instance_manager.hpp"

namespace vmm::daemon {

class DaemonApi final {
 public:
  DaemonApi(instance::InstanceManager& manager, Operations& operations)
      : manager_(manager), operations_(operations) {}

  void handle(const api::ApiRequest& request, const api::ApiReply& reply);

 private:
  instance::InstanceManager& manager_;
  Operations& operations_;
};

// The envelopes, for the handlers and their tests.
[[nodiscard]] api::ApiResponse sync_response(const nlohmann::json& metadata, unsigned status = 200);
[[nodiscard]] api::ApiResponse async_response(const OperationSnapshot& op);
[[nodiscard]] api::ApiResponse lxd_error(unsigned status, const std::string& message);

}  // namespace vmm::daemon
