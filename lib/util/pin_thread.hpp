// Pins the calling thread to one CPU (the benchmark probes: tools/core_latency.cpp,
// tools/page_walk.cpp). False if the CPU does not exist or is not allowed.
#pragma once

#include <pthread.h>
#include <sched.h>

namespace rustun {

inline bool pin_this_thread(unsigned cpu) {
    if (cpu >= CPU_SETSIZE) return false;
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    return pthread_setaffinity_np(pthread_self(), sizeof s, &s) == 0;
}

}  // namespace rustun
