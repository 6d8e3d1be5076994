#include "vmm/kvm/kvm.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "kvm/flex_array_abi.hpp"
#include "kvm/ioctl.hpp"

namespace vmm::kvm {
namespace {

constexpr int kExpectedApiVersion = 12;

struct RequiredCapability {
  long id;
  const char* name;
};

// Everything the VMM relies on; a kernel lacking one is refused up front with its name rather
// than failing obscurely half-way through building the VM.
constexpr RequiredCapability kRequired[] = {
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
    {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
#if defined(__x86_64__)
    {KVM_CAP_PIT2, "KVM_CAP_PIT2"},
    {KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR"},
    {KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
#endif
    {KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING"},
    {KVM_CAP_IRQFD, "KVM_CAP_IRQFD"},
    {KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
    {KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI"},
};

[[noreturn]] void explain_open_failure(const std::string& path, int err) {
  std::string why;
  switch (err) {
    case ENOENT:
      if (auto reason = unsupported_kvm_reason()) {
        why = path + " does not exist and " + *reason;
        break;
      }
      why = path +
            " does not exist: the host has no KVM (load kvm_intel or kvm_amd, enable "
            "virtualization in the firmware, or run the tests' sandbox: tests/sandbox/vmm-sandbox)";
      break;
    case EACCES:
    case EPERM:
      why = path + " is not accessible: run as root or add the user to the group owning it";
      break;
    default:
      why = "cannot open " + path + ": " + std::strerror(err);
  }
  throw HostResourceError(why);
}

}  // namespace

std::optional<std::string> unsupported_kvm_reason(const std::filesystem::path& modules_dir) {
  std::error_code ec;
  auto loaded = [&](const char* module) {
    return std::filesystem::exists(modules_dir / module, ec);
  };
  if (!loaded("kvm_pvm") || loaded("kvm_intel") || loaded("kvm_amd")) return std::nullopt;
  return "this host's KVM is kvm_pvm, a paravirtual KVM that cannot run unmodified guest "
         "kernels; use a host with kvm_intel or kvm_amd, or run vmm inside the nested sandbox "
         "(tests/sandbox/vmm-sandbox)";
}

Kvm Kvm::open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) explain_open_failure(path, errno);
  Kvm kvm(std::move(fd));
  const int version = ::ioctl(kvm.fd_.get(), KVM_GET_API_VERSION, 0);
  if (version != kExpectedApiVersion) {
    throw HostResourceError(path + ": KVM API version " + std::to_string(version) + ", need " +
                            std::to_string(kExpectedApiVersion));
  }
  for (const auto& cap : kRequired) {
    if (kvm.check_extension(cap.id) <= 0) {
      throw HostResourceError(path + ": the host's KVM lacks " + cap.name);
    }
  }
  if (auto reason = unsupported_kvm_reason()) throw HostResourceError(path + ": " + *reason);
  const int size =
      checked_ioctl(kvm.fd_.get(), KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
  kvm.vcpu_mmap_size_ = static_cast<size_t>(size);
  return kvm;
}

int Kvm::check_extension(long capability) const {
  const int r = ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, capability);
  return r < 0 ? 0 : r;
}

uint32_t Kvm::max_vcpus() const {
  int n = check_extension(KVM_CAP_MAX_VCPUS);
  if (n <= 0) n = check_extension(KVM_CAP_NR_VCPUS);
  if (n <= 0) n = 4;  // the documented default when neither capability is reported
  return static_cast<uint32_t>(n);
}

#if defined(__x86_64__)
std::vector<kvm_cpuid_entry2> Kvm::supported_cpuid() const {
  // The ioctl reports E2BIG until the buffer is large enough.
  for (uint32_t n = 128; n <= 4096; n *= 2) {
    abi::FlexBuffer<kvm_cpuid_entry2> buf(n);
    if (::ioctl(fd_.get(), abi::kGetSupportedCpuid, buf.get()) == 0) return buf.entries();
    if (errno != E2BIG) throw system_error("KVM_GET_SUPPORTED_CPUID failed", errno);
  }
  throw Error("KVM_GET_SUPPORTED_CPUID: too many entries");
}
#endif

VmFd Kvm::create_vm() const {
  int fd = -1;
  do {
    fd = ::ioctl(fd_.get(), KVM_CREATE_VM, 0);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) throw system_error("KVM_CREATE_VM failed", errno);
  return VmFd(UniqueFd(fd), vcpu_mmap_size_);
}

}  // namespace vmm::kvm
