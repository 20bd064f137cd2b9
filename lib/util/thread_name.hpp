// Names a thread for `top -H`, `ps -L`, `perf report --sort comm` and /proc/PID/task/*/comm
// (docs/operations.md, "Threads"). Linux keeps at most 15 bytes: longer names are cut there.
// Called by the thread's creator right after std::thread's constructor, so the name is in place
// when start() returns (a name set by the new thread itself would race with anyone looking).
#pragma once

#include <string_view>
#include <thread>

namespace rustun {

void name_thread(std::thread& thread, std::string_view name);

}  // namespace rustun
