#pragma once
// An MsiRouter that hands out route numbers and records what the device programmed and fired.
#include <cstdint>
#include <map>

#include "vmm/devices/msi_router.hpp"

namespace vmm::test {

class FakeMsiRouter final : public MsiRouter {
 public:
  uint32_t allocate_route() override { return next++; }
  void update_route(uint32_t route, uint64_t address, uint32_t data, bool enabled) override {
    routes[route] = {address, data, enabled};
  }
  void trigger(uint32_t route) override { ++fired[route]; }
  // A made-up descriptor number per route, so tests can tell routes apart.
  int route_eventfd(uint32_t route) override { return static_cast<int>(1000 + route); }
  struct Route {
    uint64_t address;
    uint32_t data;
    bool enabled;
  };
  uint32_t next = 24;
  std::map<uint32_t, Route> routes;
  std::map<uint32_t, int> fired;
};

}  // namespace vmm::test
