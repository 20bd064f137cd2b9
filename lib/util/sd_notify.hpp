// systemd's service notification protocol (sd_notify(3)) without libsystemd: one datagram of
// "KEY=VALUE" lines to the Unix socket named by $NOTIFY_SOCKET. Used by rustun-dataplane, whose
// unit is Type=notify (packaging/systemd/rustun-dataplane.service): READY=1 once its port is up,
// STOPPING=1 when it begins to stop. Not for any hot path (one syscall per call).
#pragma once

#include <string_view>

#include "util/result.hpp"

namespace rustun {

// Sends `state` (e.g. "READY=1\nSTATUS=relaying") to $NOTIFY_SOCKET: an absolute path, or an
// abstract socket when it starts with '@'. Returns true when sent, false when NOTIFY_SOCKET is
// unset or empty (not started by systemd as Type=notify: nothing to tell), an error otherwise
// (bad address, or the send failed). The caller logs an error and carries on: systemd then
// reports the start as timed out, which is the visible failure.
Result<bool> sd_notify_state(std::string_view state);

}  // namespace rustun
