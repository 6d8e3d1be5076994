// vmm command-line front end: turns arguments into a configuration and hands it on.
#include <cstdio>

int main() {
  std::puts("vmm " VMM_VERSION);
  return 0;
}
