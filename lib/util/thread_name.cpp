#include "util/thread_name.hpp"

#include <pthread.h>

#include <algorithm>
#include <cstring>

namespace rustun {

void name_thread(std::thread& thread, std::string_view name) {
    char buf[16];  // the kernel's TASK_COMM_LEN, terminator included
    const size_t n = std::min(name.size(), sizeof buf - 1);
    std::memcpy(buf, name.data(), n);
    buf[n] = '\0';
    // Fails only for a name over 15 bytes (cut above) or a thread that has already exited; a
    // thread without its name still works, so there is nothing to report.
    (void)pthread_setname_np(thread.native_handle(), buf);
}

}  // namespace rustun
