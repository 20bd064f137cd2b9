// Reading channel messages as untrusted input (docs/shm-channel.md "Validation"). Both processes
// copy a slot out of shared memory before looking at it (the other process could change it
// between a check and a use) and then validate the copy here: the message type, `len` against
// the type's fixed part and the slot, `frame_len` against `len`, and for TcpDeliver that the bytes
// are exactly one Data frame. Pure functions over bytes: the fuzz target runs them too.
#pragma once

#include <cstdint>
#include <cstring>

#include "shm/channel_layout.hpp"
#include "shm/spsc_ring.hpp"

namespace rustun::shm {

enum class MsgCheck : uint8_t {
    Ok,
    BadType,    // not the type this ring carries
    BadLength,  // len shorter than the fixed part, beyond the slot, or frame_len beyond len
    BadFrame,   // TcpDeliver: not exactly one Data frame (header, type, declared size)
};
const char* msg_check_name(MsgCheck c);

// Views into a private copy of a slot (`copy`, kSlotSize bytes); valid while the copy is.
struct PuntView {
    Endpoint from;
    uint32_t client_hint;
    const uint8_t* frame;
    uint16_t frame_len;  // <= kMaxFrameInSlot
};
struct DeliverView {
    uint32_t src_client, dst_client;
    uint64_t cp_epoch;
    const uint8_t* frame;  // exactly one Data frame: decodes, type 3, size == frame_len
    uint16_t frame_len;
};
struct TxFrameView {
    Endpoint to;  // family 4 or 6, port != 0 (the caller checks IPv6 support)
    const uint8_t* frame;
    uint16_t frame_len;  // <= kMaxFrameInSlot
};

MsgCheck parse_punt(const uint8_t* copy, PuntView& out);
MsgCheck parse_deliver(const uint8_t* copy, DeliverView& out);
MsgCheck parse_txframe(const uint8_t* copy, TxFrameView& out);
struct LinkTxView {
    uint32_t dst_client;
    uint32_t dst_ip;
    const uint8_t* frame;  // exactly one Data frame
    uint16_t frame_len;
};
MsgCheck parse_linktx(const uint8_t* copy, LinkTxView& out);
// The header of a control-ring message, with `len` checked against the slot (the body checks are
// the dataplane StateManager's, per type).
MsgCheck parse_control_header(const uint8_t* copy, MsgHeader& out);

// Consumes up to `max` messages of ring `r`: each slot is copied into `scratch` (kSlotSize
// bytes) and `fn(scratch)` sees the copy only. Releases what it consumed; returns the count.
template <typename Fn>
unsigned drain_ring(SpscRing& r, unsigned max, uint8_t* scratch, Fn&& fn) {
    unsigned n = 0;
    for (const uint8_t* slot; n < max && (slot = r.peek()) != nullptr; ++n) {
        std::memcpy(scratch, slot, kSlotSize);
        r.consume();
        fn(static_cast<const uint8_t*>(scratch));
    }
    if (n) r.release();
    return n;
}

}  // namespace rustun::shm
