#pragma once
// The instance manager's command line, after lxc's: `vmm launch|list|exec|start|stop|restart|
// pause|resume|delete|info|console|snapshot|restore|config|image|remote|daemon`. Every command
// but `daemon` talks to the daemon only through its REST API.
//
// Exit status: 0 success; `exec` passes the command's status through (127: no such command,
// 126: it cannot run); 2 a usage error or a request the daemon refused (bad name or value,
// unknown instance or image, a state that does not allow it); 1 anything else (no daemon, an
// operation that failed).
#include <string_view>

namespace vmm::cli {

// Whether argv[1] is one of these commands.
[[nodiscard]] bool is_instance_command(std::string_view command);
// argv[0] is the program, argv[1] the command.
int instance_main(int argc, char** argv);

}  // namespace vmm::cli
