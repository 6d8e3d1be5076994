#pragma once
// libslirp, loaded the first time a user-mode NIC is made. Linked normally, it and the GLib it
// needs would be mapped (and their constructors run) in every vmm process: each `vmm run` and
// each container start pays for them, though only `--net user` uses them.
#include <slirp/libslirp.h>

namespace vmm::virtio {

struct SlirpLibrary {
  decltype(&::slirp_new) new_instance;
  decltype(&::slirp_cleanup) cleanup;
  decltype(&::slirp_add_hostfwd) add_hostfwd;
  decltype(&::slirp_input) input;
  decltype(&::slirp_pollfds_fill) pollfds_fill;
  decltype(&::slirp_pollfds_poll) pollfds_poll;
};

// The library's entry points, loaded once per process (any thread). Throws
// vmm::HostResourceError naming the library when it cannot be loaded.
[[nodiscard]] const SlirpLibrary& slirp_library();

}  // namespace vmm::virtio
