#pragma once
// The agent's file requests (PROTOCOL.md, "Files"): push, pull and delete of absolute paths.
#include <string>

#include "agent/frame.hpp"
#include "agent/messages.hpp"

namespace vmm::agent {

// Each answers on `socket`: OK or ERROR, or for a pull FILE_INFO, data and FILE_END. A failed
// file operation is an ERROR to the host, never an exception; a protocol breach throws.
void serve_file_push(int socket, FrameDecoder& decoder, const FilePush& push);
void serve_file_pull(int socket, const std::string& path);
void serve_file_delete(int socket, const std::string& path);

}  // namespace vmm::agent
