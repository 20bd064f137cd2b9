// rustun-cp-bench modes, one file each; `main.cpp` dispatches on the first argument.
#pragma once

#include "common.hpp"

namespace rustun::cpbench {

int genconfig(const Args& a);
int mode_idle(const Args& a);
int mode_handshakes(const Args& a);
int mode_relay(const Args& a);
int mode_fanout(const Args& a);

}  // namespace rustun::cpbench
