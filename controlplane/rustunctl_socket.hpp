// rustunctl's side of the control socket (docs/controlplane.md, "Control socket"): which socket
// to use, and one request line -> one answer line.
#pragma once

#include <string>

#include "util/result.hpp"

namespace rustun::ctl {

inline constexpr const char* kDefaultSocket = "/run/rustun/control.sock";

// The socket, first found of: `socket_option` (--socket), $RUSTUN_SOCKET, the control_socket of
// the gateway YAML `config_file` (--config; an unreadable or invalid file is an error naming
// it), the default.
Result<std::string> find_socket(const std::string& socket_option, const std::string& config_file);

// Sends `line` and returns the answer line (without its '\n'); at most 30 s.
Result<std::string> request(const std::string& socket, const std::string& line);

}  // namespace rustun::ctl
