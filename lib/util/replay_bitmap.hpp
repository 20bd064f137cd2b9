// An RFC 6479 anti-replay window over a 64-bit counter: `Words` 64-bit blocks of bits and the
// newest counter `top`. A counter (Words - 1) * 64 or more below top is too old, one already seen
// is a replay; anything else is new and recorded. No allocation, no atomics: one writer.
// Users: the dataplane's Data replay check per (worker, client) (dataplane/state.hpp) and the
// fleet link's window per sender gateway (lib/fleet/link_replay.hpp).
#pragma once

#include <cstdint>

namespace rustun {

enum class ReplayVerdict : uint8_t { New, Seen, TooOld };

template <uint32_t Words>
struct ReplayBitmap {
    static_assert(Words >= 2 && (Words & (Words - 1)) == 0, "a power of two");
    static constexpr uint64_t kWindow = uint64_t{Words - 1} * 64;  // counters of reordering kept

    uint64_t top = 0;
    uint64_t bits[Words] = {};

    ReplayVerdict check_and_update(uint64_t ctr) {
        if (ctr < top && top - ctr >= kWindow) return ReplayVerdict::TooOld;
        const uint64_t index = ctr >> 6;
        if (ctr > top) {
            const uint64_t cur = top >> 6;
            uint64_t diff = index - cur;
            if (diff > Words) diff = Words;
            for (uint64_t i = 1; i <= diff; ++i) bits[(cur + i) & (Words - 1)] = 0;
            top = ctr;
        }
        uint64_t& word = bits[index & (Words - 1)];
        const uint64_t bit = uint64_t{1} << (ctr & 63);
        if (word & bit) return ReplayVerdict::Seen;
        word |= bit;
        return ReplayVerdict::New;
    }
};

}  // namespace rustun
