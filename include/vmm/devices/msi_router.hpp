#pragma once
// Message-signalled interrupt delivery as a PCI device model sees it. The VMM implements it
// over KVM's GSI routing table and irqfds, so delivery needs no VM exit; tests use a fake.
#include <cstdint>

namespace vmm {

class MsiRouter {
 public:
  MsiRouter() = default;
  MsiRouter(const MsiRouter&) = delete;
  MsiRouter& operator=(const MsiRouter&) = delete;
  virtual ~MsiRouter() = default;

  // A new interrupt route, initially disabled. Returns its handle (a GSI under KVM).
  virtual uint32_t allocate_route() = 0;
  // Points the route at an MSI address/data pair, or disables it.
  virtual void update_route(uint32_t route, uint64_t address, uint32_t data, bool enabled) = 0;
  // Delivers one interrupt through the route. Callable from any thread.
  virtual void trigger(uint32_t route) = 0;
  // An eventfd that delivers through the route inside the kernel when written (an irqfd), for
  // a kernel-side device (vhost); -1 when the router has none. Lives as long as the router.
  [[nodiscard]] virtual int route_eventfd(uint32_t /*route*/) { return -1; }
};

}  // namespace vmm
