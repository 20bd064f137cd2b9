// Pushing onto the control ring (CpToDpControl) for a control plane: the ring is the
// dataplane's to drain (its main lcore polls it every ~100 µs), so a full ring is waited out,
// within a bound, never overwritten. Each control plane picks its patience; all use this loop.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "shm/channel.hpp"

namespace rustun::shm {

struct PushWait {
    std::chrono::nanoseconds timeout{std::chrono::seconds(5)};  // give up after this long full
    std::chrono::nanoseconds poll{std::chrono::milliseconds(1)};  // sleep between attempts
    // Keep cp_heartbeat_ns fresh while waiting (a dataplane must not think we died while its own
    // ring is full). Off for tests that play a control plane without a heartbeat.
    bool heartbeat = true;
    const std::atomic<bool>* cancel = nullptr;  // set: stop waiting at once
};

// Writes the message into the next free slot of `ch`'s control ring and publishes it; false if
// the ring stayed full for `w.timeout` or `*w.cancel` became true. body_len <= kMaxBody.
bool push_control(Channel& ch, const PushWait& w, MsgType type, const void* body, uint32_t body_len);

}  // namespace rustun::shm
