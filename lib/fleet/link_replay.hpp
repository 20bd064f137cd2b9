// The per-sender replay window of link frames (docs/fleet.md, "Link"): a sliding bitmap over the
// sender's 64-bit sequence (lib/util/replay_bitmap.hpp, RFC 6479 style). The highest accepted
// sequence is the top; one kLinkReplayWindow or more below it is too old, one already seen is a
// replay. The TCP link keeps order, the UDP link may reorder up to the window. A sender's
// sequence starts at its CLOCK_REALTIME in ns, so a restarted sender continues above what it
// sent before.
#pragma once

#include <cstdint>

#include "fleet/link_frame.hpp"
#include "util/replay_bitmap.hpp"

namespace rustun::fleet {

inline constexpr uint32_t kLinkReplayWords = 32;                                       // power of two
inline constexpr uint64_t kLinkReplayWindow = ReplayBitmap<kLinkReplayWords>::kWindow;  // 1984 sequences

class LinkReplayWindow {
public:
    // Ok (and records `seq`), Replay or TooOld. Call only for frames whose tag verified.
    LinkCheck check_and_update(uint64_t seq) {
        switch (bitmap_.check_and_update(seq)) {
            case ReplayVerdict::New: return LinkCheck::Ok;
            case ReplayVerdict::Seen: return LinkCheck::Replay;
            case ReplayVerdict::TooOld: return LinkCheck::TooOld;
        }
        return LinkCheck::Replay;
    }
    uint64_t top() const { return bitmap_.top; }

private:
    ReplayBitmap<kLinkReplayWords> bitmap_;
};

}  // namespace rustun::fleet
