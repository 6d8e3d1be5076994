#include "vmm/kvm/vm_fd.hpp"

#include <cstring>
#include <memory>

#include "kvm/flex_array_abi.hpp"
#include "kvm/ioctl.hpp"

namespace vmm::kvm {

#if defined(__x86_64__)
void VmFd::set_tss_address(uint64_t addr) const {
  checked_ioctl(fd_.get(), KVM_SET_TSS_ADDR, static_cast<unsigned long>(addr), "KVM_SET_TSS_ADDR");
}

void VmFd::set_identity_map_address(uint64_t addr) const {
  uint64_t a = addr;
  checked_ioctl(fd_.get(), KVM_SET_IDENTITY_MAP_ADDR, &a, "KVM_SET_IDENTITY_MAP_ADDR");
}

void VmFd::create_irqchip() const {
  checked_ioctl(fd_.get(), KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
}

void VmFd::create_pit() const {
  kvm_pit_config config{};
  config.flags = KVM_PIT_SPEAKER_DUMMY;
  checked_ioctl(fd_.get(), KVM_CREATE_PIT2, &config, "KVM_CREATE_PIT2");
}
#endif

void VmFd::set_user_memory_region(uint32_t slot, uint64_t guest_addr, uint64_t size,
                                  void* host) const {
  kvm_userspace_memory_region region{};
  region.slot = slot;
  region.guest_phys_addr = guest_addr;
  region.memory_size = size;
  region.userspace_addr = reinterpret_cast<uint64_t>(host);
  checked_ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION");
}

VcpuFd VmFd::create_vcpu(uint32_t id) const {
  const int fd =
      checked_ioctl(fd_.get(), KVM_CREATE_VCPU, static_cast<unsigned long>(id), "KVM_CREATE_VCPU");
  return VcpuFd(UniqueFd(fd), vcpu_mmap_size_);
}

DeviceFd VmFd::create_device(uint32_t type) const {
  kvm_create_device create{};
  create.type = type;
  checked_ioctl(fd_.get(), KVM_CREATE_DEVICE, &create, "KVM_CREATE_DEVICE");
  return DeviceFd(UniqueFd(static_cast<int>(create.fd)));
}

#if defined(__aarch64__)
kvm_vcpu_init VmFd::arm_preferred_target() const {
  kvm_vcpu_init init{};
  checked_ioctl(fd_.get(), KVM_ARM_PREFERRED_TARGET, &init, "KVM_ARM_PREFERRED_TARGET");
  return init;
}
#endif

void VmFd::set_irq_line(uint32_t gsi, bool level) const {
  kvm_irq_level irq{};
  irq.irq = gsi;
  irq.level = level ? 1 : 0;
  checked_ioctl(fd_.get(), KVM_IRQ_LINE, &irq, "KVM_IRQ_LINE");
}

void VmFd::register_irqfd(int eventfd, uint32_t gsi, int resample_eventfd) const {
  kvm_irqfd irqfd{};
  irqfd.fd = static_cast<uint32_t>(eventfd);
  irqfd.gsi = gsi;
  if (resample_eventfd >= 0) {
    irqfd.flags = KVM_IRQFD_FLAG_RESAMPLE;
    irqfd.resamplefd = static_cast<uint32_t>(resample_eventfd);
  }
  checked_ioctl(fd_.get(), KVM_IRQFD, &irqfd, "KVM_IRQFD");
}

void VmFd::unregister_irqfd(int eventfd, uint32_t gsi) const {
  kvm_irqfd irqfd{};
  irqfd.fd = static_cast<uint32_t>(eventfd);
  irqfd.gsi = gsi;
  irqfd.flags = KVM_IRQFD_FLAG_DEASSIGN;
  checked_ioctl(fd_.get(), KVM_IRQFD, &irqfd, "KVM_IRQFD (deassign)");
}

namespace {
kvm_ioeventfd make_ioeventfd(int eventfd, uint64_t addr, uint32_t len, bool pio,
                             std::optional<uint64_t> datamatch) {
  kvm_ioeventfd io{};
  io.fd = eventfd;
  io.addr = addr;
  io.len = len;
  if (pio) io.flags |= KVM_IOEVENTFD_FLAG_PIO;
  if (datamatch) {
    io.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
    io.datamatch = *datamatch;
  }
  return io;
}
}  // namespace

void VmFd::register_ioeventfd(int eventfd, uint64_t addr, uint32_t len, bool pio,
                              std::optional<uint64_t> datamatch) const {
  auto io = make_ioeventfd(eventfd, addr, len, pio, datamatch);
  checked_ioctl(fd_.get(), KVM_IOEVENTFD, &io, "KVM_IOEVENTFD");
}

void VmFd::unregister_ioeventfd(int eventfd, uint64_t addr, uint32_t len, bool pio,
                                std::optional<uint64_t> datamatch) const {
  auto io = make_ioeventfd(eventfd, addr, len, pio, datamatch);
  io.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
  checked_ioctl(fd_.get(), KVM_IOEVENTFD, &io, "KVM_IOEVENTFD (deassign)");
}

void VmFd::set_gsi_routing(std::span<const kvm_irq_routing_entry> entries) const {
  abi::FlexBuffer<kvm_irq_routing_entry> buf(entries);
  checked_ioctl(fd_.get(), abi::kSetGsiRouting, buf.get(), "KVM_SET_GSI_ROUTING");
}

void VmFd::signal_msi(uint64_t address, uint32_t data) const {
  kvm_msi msi{};
  msi.address_lo = static_cast<uint32_t>(address);
  msi.address_hi = static_cast<uint32_t>(address >> 32);
  msi.data = data;
  checked_ioctl(fd_.get(), KVM_SIGNAL_MSI, &msi, "KVM_SIGNAL_MSI");
}

}  // namespace vmm::kvm
