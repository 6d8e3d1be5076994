#include "instance/timestamps.hpp"

#include <cstdio>
#include <ctime>

namespace vmm::instance {

std::string rfc3339_now() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  tm utc{};
  ::gmtime_r(&now.tv_sec, &utc);
  char date[32];
  std::strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &utc);
  char out[48];
  std::snprintf(out, sizeof(out), "%s.%09ldZ", date, now.tv_nsec);
  return out;
}

}  // namespace vmm::instance
