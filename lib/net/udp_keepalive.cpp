#include "net/udp_keepalive.hpp"

#include <algorithm>
#include <string_view>

#include "net/trial_open.hpp"
#include "proto/frame.hpp"

namespace rustun {

UdpKeepAliveOpen open_udp_keepalive(const uint8_t* frame, size_t len, std::span<const CipherKey* const> keys,
                                    CryptoEngine& eng, uint8_t* scratch,
                                    const std::function<bool(const KeepAlive&, size_t)>& accept,
                                    UdpKeepAliveOpened& out) {
    FrameHeader h;
    if (len < kFrameHeaderSize || decode_header(std::span<const uint8_t>(frame, len), h) != HeaderStatus::Ok ||
        h.frame_size() > len)
        return UdpKeepAliveOpen::BadFrame;
    if (h.frame_type() != FrameType::KeepAlive) return UdpKeepAliveOpen::NotKeepAlive;
    TrialTrace trace;
    auto opened = trial_open(
        keys, eng, frame + kFrameHeaderSize, h.payload_length, scratch,
        [](std::string_view pt) { return decode_keepalive(pt); }, accept, trace);
    if (opened) {
        out.ka = std::move(opened->first);
        out.key_index = opened->second;
        out.frame_size = static_cast<uint32_t>(h.frame_size());
        return UdpKeepAliveOpen::Ok;
    }
    return UdpKeepAliveOpen::Rejected;
}

SeqCheck check_keepalive_seq(const std::optional<uint64_t>& seq, uint64_t last_seq, uint64_t floor_us,
                             uint64_t now_us, uint64_t window_us) {
    if (!seq) return SeqCheck::Missing;
    const uint64_t s = *seq;
    if (s <= std::max(last_seq, floor_us)) return SeqCheck::Replay;
    // |s - now| > window, without overflow.
    if ((s < now_us && now_us - s > window_us) || (s > now_us && s - now_us > window_us)) return SeqCheck::Stale;
    return SeqCheck::Ok;
}

}  // namespace rustun
