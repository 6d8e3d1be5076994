#pragma once
// MsiRouter over KVM: owns the VM's whole GSI routing table (KVM_SET_GSI_ROUTING replaces it
// wholesale, so the in-kernel irqchip's default pin routes are kept here too) and one irqfd per
// MSI route, so a device thread delivers an interrupt with a single eventfd write.
#include <linux/kvm.h>

#include <cstdint>
#include <mutex>
#include <vector>

#include "vmm/common/unique_fd.hpp"
#include "vmm/devices/msi_router.hpp"
#include "vmm/kvm/vm_fd.hpp"

namespace vmm {

class KvmMsiRouter final : public MsiRouter {
 public:
  // GSIs below `first_msi_gsi` stay routed to the PIC/IOAPIC pins as KVM sets them up.
  KvmMsiRouter(const kvm::VmFd& vm, uint32_t ioapic_pins);
  ~KvmMsiRouter() override;

  uint32_t allocate_route() override;
  void update_route(uint32_t route, uint64_t address, uint32_t data, bool enabled) override;
  void trigger(uint32_t route) override;
  [[nodiscard]] int route_eventfd(uint32_t route) override;

 private:
  struct MsiRoute {
    uint32_t gsi;
    UniqueFd irqfd;
    uint64_t address = 0;
    uint32_t data = 0;
    bool enabled = false;
  };
  void commit();  // caller holds mutex_

  const kvm::VmFd& vm_;
  uint32_t first_msi_gsi_;
  std::mutex mutex_;
  std::vector<kvm_irq_routing_entry> pin_routes_;
  std::vector<MsiRoute> msi_routes_;  // index = gsi - first_msi_gsi_
};

}  // namespace vmm
