// Stand-alone front end for the container mode, used by the integration tests and the
// benchmark: dispatches exactly as the vmm binary does for `container` and `oci` (and when
// invoked under another name such as vmm-runc or runc).
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <string_view>

#include "container/cli.hpp"

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_logger_st("vmm"));
  std::string_view self = argv[0];
  if (const auto slash = self.rfind('/'); slash != std::string_view::npos)
    self = self.substr(slash + 1);
  if (self == "vmm-runc" || self == "runc") return vmm::container::oci_main(argc, argv);
  if (argc >= 2 && std::strcmp(argv[1], "container") == 0)
    return vmm::container::container_main(argc - 1, argv + 1);
  if (argc >= 2 && std::strcmp(argv[1], "oci") == 0)
    return vmm::container::oci_main(argc - 1, argv + 1);
  return 2;
}
