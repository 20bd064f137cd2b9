// The per-sender replay window of link frames (docs/fleet.md, "Link"): a sliding bitmap over the
// sender's 64-bit sequence (RFC 6479 style). `top` is the highest sequence accepted; a sequence
// more than kLinkReplayWindow - 1 below it is too old, one already seen is a replay. The TCP
// link keeps order, the UDP link may reorder up to the window. A sender's sequence starts at its
// CLOCK_REALTIME in ns, so a restarted sender continues above what it sent before.
#pragma once

#include <cstdint>

#include "fleet/link_frame.hpp"

namespace rustun::fleet {

inline constexpr uint32_t kLinkReplayWords = 32;                           // power of two
inline constexpr uint64_t kLinkReplayWindow = (kLinkReplayWords - 1) * 64;  // 1984 sequences

class LinkReplayWindow {
public:
    // Ok (and records `seq`), Replay or TooOld. Call only for frames whose tag verified.
    LinkCheck check_and_update(uint64_t seq) {
        if (empty_) {
            empty_ = false;
            top_ = seq;
            bits_[(seq >> 6) & (kLinkReplayWords - 1)] = uint64_t{1} << (seq & 63);
            return LinkCheck::Ok;
        }
        if (seq < top_ && top_ - seq >= kLinkReplayWindow) return LinkCheck::TooOld;
        const uint64_t index = seq >> 6;
        if (seq > top_) {
            const uint64_t cur = top_ >> 6;
            uint64_t diff = index - cur;
            if (diff > kLinkReplayWords) diff = kLinkReplayWords;
            for (uint64_t i = 1; i <= diff; ++i) bits_[(cur + i) & (kLinkReplayWords - 1)] = 0;
            top_ = seq;
        }
        uint64_t& word = bits_[index & (kLinkReplayWords - 1)];
        const uint64_t bit = uint64_t{1} << (seq & 63);
        if (word & bit) return LinkCheck::Replay;
        word |= bit;
        return LinkCheck::Ok;
    }
    uint64_t top() const { return top_; }

private:
    bool empty_ = true;
    uint64_t top_ = 0;
    uint64_t bits_[kLinkReplayWords] = {};
};

}  // namespace rustun::fleet
