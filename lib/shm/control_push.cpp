#include "shm/control_push.hpp"

#include <thread>

#include "util/clock.hpp"

namespace rustun::shm {

bool push_control(Channel& ch, const PushWait& w, MsgType type, const void* body, uint32_t body_len) {
    SpscRing& r = ch.control();
    const auto deadline = std::chrono::steady_clock::now() + w.timeout;
    for (;;) {
        if (uint8_t* slot = r.reserve()) {
            write_msg(slot, type, body, body_len);
            r.commit();
            return true;
        }
        if ((w.cancel && w.cancel->load(std::memory_order_relaxed)) || std::chrono::steady_clock::now() > deadline)
            return false;
        if (w.heartbeat) ch.header().cp_heartbeat_ns.store(mono_ns(), std::memory_order_release);
        std::this_thread::sleep_for(w.poll);
    }
}

}  // namespace rustun::shm
