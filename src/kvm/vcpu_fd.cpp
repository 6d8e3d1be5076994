#include "vmm/kvm/vcpu_fd.hpp"

#include <spdlog/fmt/fmt.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include "kvm/flex_array_abi.hpp"
#include "kvm/ioctl.hpp"

namespace vmm::kvm {

VcpuFd::VcpuFd(UniqueFd fd, size_t mmap_size) : fd_(std::move(fd)), mmap_size_(mmap_size) {
  void* p = ::mmap(nullptr, mmap_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
  if (p == MAP_FAILED) throw system_error("cannot map the vCPU run structure", errno);
  run_ = static_cast<kvm_run*>(p);
}

VcpuFd::VcpuFd(VcpuFd&& other) noexcept
    : fd_(std::move(other.fd_)),
      run_(std::exchange(other.run_, nullptr)),
      mmap_size_(std::exchange(other.mmap_size_, 0)) {}

VcpuFd& VcpuFd::operator=(VcpuFd&& other) noexcept {
  if (this != &other) {
    unmap();
    fd_ = std::move(other.fd_);
    run_ = std::exchange(other.run_, nullptr);
    mmap_size_ = std::exchange(other.mmap_size_, 0);
  }
  return *this;
}

VcpuFd::~VcpuFd() { unmap(); }

void VcpuFd::unmap() noexcept {
  if (run_ != nullptr) ::munmap(run_, mmap_size_);
  run_ = nullptr;
}

void VcpuFd::set_immediate_exit(bool value) noexcept {
  __atomic_store_n(&run_->immediate_exit, value ? 1 : 0, __ATOMIC_SEQ_CST);
}

bool VcpuFd::notify_guest_paused() noexcept {
  return ::ioctl(fd_.get(), KVM_KVMCLOCK_CTRL, 0) == 0;
}

VcpuExit VcpuFd::run() {
  VcpuExit exit;
  if (::ioctl(fd_.get(), KVM_RUN, 0) < 0) {
    if (errno == EINTR || errno == EAGAIN) {
      exit.kind = VcpuExit::Kind::kInterrupted;
      return exit;
    }
    throw system_error("KVM_RUN failed", errno);
  }
  auto* base = reinterpret_cast<uint8_t*>(run_);
  exit.raw_reason = run_->exit_reason;
  switch (run_->exit_reason) {
    case KVM_EXIT_IO: {
      exit.kind =
          run_->io.direction == KVM_EXIT_IO_OUT ? VcpuExit::Kind::kIoOut : VcpuExit::Kind::kIoIn;
      exit.address = run_->io.port;
      exit.count = run_->io.count;
      // The data area lies inside the mapped run structure; KVM guarantees it fits.
      // String I/O (rep ins/outs) packs `count` items of `size` bytes in the data area.
      exit.data = std::span<uint8_t>(base + run_->io.data_offset,
                                     static_cast<size_t>(run_->io.size) * run_->io.count);
      if (run_->io.data_offset + exit.data.size() > mmap_size_)
        exit.kind = VcpuExit::Kind::kUnknown;
      break;
    }
    case KVM_EXIT_MMIO:
      exit.kind = run_->mmio.is_write ? VcpuExit::Kind::kMmioWrite : VcpuExit::Kind::kMmioRead;
      exit.address = run_->mmio.phys_addr;
      exit.data = std::span<uint8_t>(run_->mmio.data, std::min<uint32_t>(run_->mmio.len, 8));
      break;
    case KVM_EXIT_HLT:
      exit.kind = VcpuExit::Kind::kHlt;
      break;
    case KVM_EXIT_SHUTDOWN:
      exit.kind = VcpuExit::Kind::kShutdown;
      break;
    case KVM_EXIT_SYSTEM_EVENT:
      exit.kind = run_->system_event.type == KVM_SYSTEM_EVENT_RESET
                      ? VcpuExit::Kind::kSystemReset
                      : VcpuExit::Kind::kSystemShutdown;
      exit.detail = run_->system_event.type;
      break;
    case KVM_EXIT_INTR:
      exit.kind = VcpuExit::Kind::kInterrupted;
      break;
    case KVM_EXIT_FAIL_ENTRY:
      exit.kind = VcpuExit::Kind::kFailEntry;
      exit.detail = run_->fail_entry.hardware_entry_failure_reason;
      break;
    case KVM_EXIT_INTERNAL_ERROR:
      exit.kind = VcpuExit::Kind::kInternalError;
      exit.detail = run_->internal.suberror;
      break;
    default:
      exit.kind = VcpuExit::Kind::kUnknown;
  }
  return exit;
}

uint64_t VcpuFd::get_one_reg(uint64_t id) const {
  uint64_t value = 0;
  kvm_one_reg reg{id, reinterpret_cast<uint64_t>(&value)};
  checked_ioctl(fd_.get(), KVM_GET_ONE_REG, &reg, "KVM_GET_ONE_REG");
  return value;
}

void VcpuFd::set_one_reg(uint64_t id, uint64_t value) const {
  kvm_one_reg reg{id, reinterpret_cast<uint64_t>(&value)};
  checked_ioctl(fd_.get(), KVM_SET_ONE_REG, &reg, "KVM_SET_ONE_REG");
}

#if defined(__aarch64__)
void VcpuFd::arm_init(const kvm_vcpu_init& init) const {
  checked_ioctl(fd_.get(), KVM_ARM_VCPU_INIT, &init, "KVM_ARM_VCPU_INIT");
}
#endif

#if defined(__x86_64__)
kvm_regs VcpuFd::get_regs() const {
  kvm_regs regs{};
  checked_ioctl(fd_.get(), KVM_GET_REGS, &regs, "KVM_GET_REGS");
  return regs;
}
void VcpuFd::set_regs(const kvm_regs& regs) const {
  checked_ioctl(fd_.get(), KVM_SET_REGS, &regs, "KVM_SET_REGS");
}
kvm_sregs VcpuFd::get_sregs() const {
  kvm_sregs sregs{};
  checked_ioctl(fd_.get(), KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
  return sregs;
}
void VcpuFd::set_sregs(const kvm_sregs& sregs) const {
  checked_ioctl(fd_.get(), KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
}
void VcpuFd::set_fpu(const kvm_fpu& fpu) const {
  checked_ioctl(fd_.get(), KVM_SET_FPU, &fpu, "KVM_SET_FPU");
}

void VcpuFd::set_cpuid(std::span<const kvm_cpuid_entry2> entries) const {
  abi::FlexBuffer<kvm_cpuid_entry2> buf(entries);
  checked_ioctl(fd_.get(), abi::kSetCpuid2, buf.get(), "KVM_SET_CPUID2");
}

void VcpuFd::set_msrs(std::span<const kvm_msr_entry> entries) const {
  abi::FlexBuffer<kvm_msr_entry> buf(entries);
  const int set = checked_ioctl(fd_.get(), abi::kSetMsrs, buf.get(), "KVM_SET_MSRS");
  // KVM_SET_MSRS returns how many entries it accepted and stops at the first refused one.
  if (static_cast<size_t>(set) != entries.size()) {
    throw Error(
        fmt::format("KVM_SET_MSRS refused MSR {:#x}", entries[static_cast<size_t>(set)].index));
  }
}

kvm_lapic_state VcpuFd::get_lapic() const {
  kvm_lapic_state lapic{};
  checked_ioctl(fd_.get(), KVM_GET_LAPIC, &lapic, "KVM_GET_LAPIC");
  return lapic;
}
void VcpuFd::set_lapic(const kvm_lapic_state& lapic) const {
  checked_ioctl(fd_.get(), KVM_SET_LAPIC, &lapic, "KVM_SET_LAPIC");
}
#endif

}  // namespace vmm::kvm
