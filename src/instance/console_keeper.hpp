#pragma once
// Keeps a system container's console: the pty master that the container runtime hands over on
// the console socket, copied into the instance's console.log for the life of the container.
// It is a process of its own, not a thread of the daemon, so the console outlives a daemon
// restart (as LXC's monitor does), and it holds the terminal's other end too, so the console
// never hangs up between two programs that open /dev/console (a getty restarting).
//
// Started as `vmm console-keeper LOG PID_FILE` with a listening Unix socket as its stdin: it
// forks (the starter's wait ends at once), accepts one connection, takes the terminal from it,
// learns the container's init from PID_FILE (written by the runtime once the container runs)
// and ends when that init ends. A connection that brings no terminal (the start failed), or no
// init within a minute, ends it too.
#include <filesystem>

namespace vmm::instance {

// The command's entry: argv = {"console-keeper", LOG, PID_FILE}. An exit status.
int console_keeper_main(int argc, char** argv);

}  // namespace vmm::instance
