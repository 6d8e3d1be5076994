#include "vmm/kvm_msi_router.hpp"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "vmm/common/error.hpp"

namespace vmm {
namespace {

kvm_irq_routing_entry pin_route(uint32_t gsi, uint32_t chip, uint32_t pin) {
  kvm_irq_routing_entry e{};
  e.gsi = gsi;
  e.type = KVM_IRQ_ROUTING_IRQCHIP;
  e.u.irqchip.irqchip = chip;
  e.u.irqchip.pin = pin;
  return e;
}

}  // namespace

KvmMsiRouter::KvmMsiRouter(const kvm::VmFd& vm, uint32_t ioapic_pins)
    : vm_(vm), first_msi_gsi_(ioapic_pins) {
  // The same table KVM_CREATE_IRQCHIP installs: ISA IRQs 0-15 on both PICs and the IOAPIC,
  // the remaining IOAPIC pins on their own.
  for (uint32_t gsi = 0; gsi < ioapic_pins; ++gsi) {
    if (gsi < 16) {
      pin_routes_.push_back(
          pin_route(gsi, gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, gsi % 8));
    }
    pin_routes_.push_back(pin_route(gsi, KVM_IRQCHIP_IOAPIC, gsi));
  }
}

KvmMsiRouter::~KvmMsiRouter() {
  for (auto& r : msi_routes_) {
    try {
      vm_.unregister_irqfd(r.irqfd.get(), r.gsi);
    } catch (const Error&) {
      // The VM is going away; the kernel drops irqfds with it.
    }
  }
}

uint32_t KvmMsiRouter::allocate_route() {
  std::lock_guard lock(mutex_);
  MsiRoute r{.gsi = first_msi_gsi_ + static_cast<uint32_t>(msi_routes_.size()),
             .irqfd = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK))};
  if (!r.irqfd) throw system_error("eventfd", errno);
  vm_.register_irqfd(r.irqfd.get(), r.gsi);
  msi_routes_.push_back(std::move(r));
  return msi_routes_.back().gsi;
}

void KvmMsiRouter::update_route(uint32_t route, uint64_t address, uint32_t data, bool enabled) {
  std::lock_guard lock(mutex_);
  if (route < first_msi_gsi_ || route - first_msi_gsi_ >= msi_routes_.size()) return;
  MsiRoute& r = msi_routes_[route - first_msi_gsi_];
  if (r.address == address && r.data == data && r.enabled == enabled) return;
  r.address = address;
  r.data = data;
  r.enabled = enabled;
  commit();
}

void KvmMsiRouter::trigger(uint32_t route) {
  // No lock: the irqfd never changes after allocation and eventfd writes are atomic.
  if (route < first_msi_gsi_ || route - first_msi_gsi_ >= msi_routes_.size()) return;
  const uint64_t one = 1;
  if (::write(msi_routes_[route - first_msi_gsi_].irqfd.get(), &one, sizeof(one)) < 0) {
    spdlog::warn("irqfd write for GSI {} failed", route);
  }
}

int KvmMsiRouter::route_eventfd(uint32_t route) {
  std::lock_guard lock(mutex_);
  if (route < first_msi_gsi_ || route - first_msi_gsi_ >= msi_routes_.size()) return -1;
  return msi_routes_[route - first_msi_gsi_].irqfd.get();
}

void KvmMsiRouter::commit() {
  std::vector<kvm_irq_routing_entry> table = pin_routes_;
  for (const auto& r : msi_routes_) {
    if (!r.enabled) continue;
    kvm_irq_routing_entry e{};
    e.gsi = r.gsi;
    e.type = KVM_IRQ_ROUTING_MSI;
    e.u.msi.address_lo = static_cast<uint32_t>(r.address);
    e.u.msi.address_hi = static_cast<uint32_t>(r.address >> 32);
    e.u.msi.data = r.data;
    table.push_back(e);
  }
  vm_.set_gsi_routing(table);
}

}  // namespace vmm
