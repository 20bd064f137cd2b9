// The pure part of the control plane's UDP KeepAlive punt handler (docs/protocol-extensions.md):
// frame checks, trial decryption with the candidate keys in order (the hinted client's first),
// body decoding, and the `seq` window. No state, no locks, no I/O. The control plane's punt path
// (controlplane/dataplane_link_punt.cpp) makes the same frame checks and opens with the same
// trial loop (net/trial_open.hpp, through trial_authenticate), and calls check_keepalive_seq;
// tests/fuzz/fuzz_udp_keepalive feeds these arbitrary bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "crypto/cipher_key.hpp"
#include "crypto/crypto_engine.hpp"
#include "proto/messages.hpp"

namespace rustun {

enum class UdpKeepAliveOpen : uint8_t {
    Ok,            // `out` holds the body and the index of the key that opened it
    BadFrame,      // shorter than a header, bad header, or 8 + length beyond `len`
    NotKeepAlive,  // a valid header of another type
    Rejected,      // no key opens it into a KeepAlive body that `accept` takes
};

struct UdpKeepAliveOpened {
    KeepAlive ka;
    size_t key_index = 0;
    uint32_t frame_size = 0;  // 8 + payload length (bytes after it are ignored)
};

// Opens the punted frame `frame[0..len)` with `keys` in order; `accept(body, key_index)` says
// whether the body's identity belongs to that key's cluster. `scratch`: at least kMaxFrameSize
// bytes (the frame itself is never written).
UdpKeepAliveOpen open_udp_keepalive(const uint8_t* frame, size_t len, std::span<const CipherKey* const> keys,
                                    CryptoEngine& eng, uint8_t* scratch,
                                    const std::function<bool(const KeepAlive&, size_t)>& accept,
                                    UdpKeepAliveOpened& out);

enum class SeqCheck : uint8_t {
    Ok,
    Missing,  // no `seq` member
    Replay,   // not above the last accepted seq of the identity, or not after `floor_us`
    Stale,    // more than `window_us` from `now_us`
};

// The replay defence of a UDP binding: `seq` (Unix µs) must be above `last_seq` and `floor_us`
// (the control plane's start) and within ±window_us of now_us. Overflow-safe for any input.
SeqCheck check_keepalive_seq(const std::optional<uint64_t>& seq, uint64_t last_seq, uint64_t floor_us,
                             uint64_t now_us, uint64_t window_us);

}  // namespace rustun
