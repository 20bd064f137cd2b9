// Why a control-plane connection closes: one X-macro table of reason, log text and the counter
// that counts it. Worker::close_conn increments that counter, once per connection, when the
// connection actually closes (a close requested twice, e.g. a kick racing an idle timeout, is
// counted once). `kCount` in the counter column: no close counter of its own (the event is
// counted where it is detected, e.g. handshake_wrong_type, or not at all, e.g. a peer's FIN).
#pragma once

#include <cstdint>

#include "counters.hpp"

namespace rustun::cp {

// X(enumerator, log text, counter)
#define RUSTUN_CP_CLOSE_REASONS(X)                                                                     \
    X(None, "none", kCount)                                                                            \
    X(PeerClosed, "closed by peer", kCount)                                                            \
    X(ReadError, "read error", read_error)                                                             \
    X(WriteError, "write error", write_error)                                                          \
    X(HandshakeTimeout, "no handshake in time", handshake_timeout)                                     \
    X(IdleTimeout, "idle timeout", idle_timeout)                                                       \
    X(BadMagic, "bad magic", bad_magic)                                                                \
    X(BadVersion, "bad version", bad_version)                                                          \
    X(LengthRefused, "frame length refused", length_refused)                                           \
    X(DecryptFailed, "authentication failed", decrypt_failed)                                          \
    X(BadJson, "unparseable control frame", bad_json)                                                  \
    X(WrongFirstFrame, "first frame not a Handshake", kCount)                                          \
    X(UnknownIdentity, "unknown identity", kCount)                                                     \
    X(Replaced, "replaced by a newer connection of the same identity", duplicate_identity_replaced)    \
    X(Kicked, "kicked", kicked) /* rustunctl kick, or removed/re-keyed by a reload */                  \
    X(SlowClient, "output queue stayed full (client not reading)", slow_client_disconnect)             \
    X(RateLimited, "handshake rate limit", kCount)                                                     \
    X(Shutdown, "shutdown", kCount)                                                                    \
    X(Evicted, "evicted: too many connections without a handshake", handshake_pending_evicted)         \
    X(FirstByteTimeout, "nothing sent within first_byte_timeout", first_byte_timeout)                  \
    X(HandshakeReplay, "replayed Handshake", handshake_replayed) \
    X(FleetOwnerElsewhere, "a newer session of the identity lives on another gateway", fleet_ownership_lost)

enum class CloseReason : uint8_t {
#define X(name, text, counter) name,
    RUSTUN_CP_CLOSE_REASONS(X)
#undef X
};

constexpr const char* close_reason_name(CloseReason r) {
    switch (r) {
#define X(name, text, counter) \
    case CloseReason::name: return text;
        RUSTUN_CP_CLOSE_REASONS(X)
#undef X
    }
    return "?";
}

// The counter a close for `r` increments; Counter::kCount if none.
constexpr Counter close_counter(CloseReason r) {
    switch (r) {
#define X(name, text, counter) \
    case CloseReason::name: return Counter::counter;
        RUSTUN_CP_CLOSE_REASONS(X)
#undef X
    }
    return Counter::kCount;
}

}  // namespace rustun::cp
