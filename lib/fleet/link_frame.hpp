// The inter-gateway link frame (docs/fleet.md, "Link"): a small header naming the sender, its
// 64-bit sequence, the cluster and the destination, the relayed Rustun frame's bytes unchanged,
// and a 16-byte AEAD tag of the fleet key (link_auth.hpp) over everything before it.
//
//   offset size  field (integers big-endian)
//   0      4     magic "RFLK"
//   4      1     version (1)
//   5      3     reserved, 0
//   8      1     sender_len   (1..255)  the sending gateway's id
//   9      1     cluster_len  (1..255)  the cluster's name
//   10     1     identity_len (0..255)  the destination's identity, 0 = none
//   11     1     reserved, 0
//   12     4     frame_len    (8..65543) the relayed frame's bytes
//   16     4     salt         per sender process: nonce = bytes 16..28 (salt, seq)
//   20     8     seq          per sender, strictly increasing (starts at CLOCK_REALTIME ns)
//   28     4     dst_ip       destination private IPv4, 0 = none (dst_ip or identity required)
//   32     ...   sender id, cluster name, identity (the lengths above)
//   H      frame_len  the relayed frame (one Rustun Data frame), unchanged
//   H+frame_len 16    tag over bytes [0, H + frame_len)
//
// Pure functions, no allocation: the fuzzable part of the link.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace rustun::fleet {

inline constexpr uint8_t kLinkMagic[4] = {'R', 'F', 'L', 'K'};
inline constexpr uint8_t kLinkVersion = 1;
inline constexpr size_t kLinkFixedHeader = 32;
inline constexpr size_t kLinkNonceOffset = 16;  // 12 bytes: salt (4) || seq (8)
inline constexpr size_t kLinkTagLen = 16;
inline constexpr size_t kLinkMaxName = 255;
inline constexpr uint32_t kLinkMinFrame = 8;        // a Rustun frame header
inline constexpr uint32_t kLinkMaxFrame = 8 + 65535;
// The largest link frame: fixed header, three names, the largest frame, the tag.
inline constexpr size_t kLinkMaxFrameSize = kLinkFixedHeader + 3 * kLinkMaxName + kLinkMaxFrame + kLinkTagLen;

// The header's fields. Names are views (into the caller's strings when encoding, into the
// received bytes when parsed).
struct LinkHeader {
    std::string_view sender;
    std::string_view cluster;
    std::string_view identity;  // empty: none
    uint32_t salt = 0;
    uint64_t seq = 0;
    uint32_t dst_ip = 0;        // host order, 0 = none
    uint32_t frame_len = 0;
};

// Bytes of the header `h` describes (fixed part and names).
inline size_t link_header_size(const LinkHeader& h) {
    return kLinkFixedHeader + h.sender.size() + h.cluster.size() + h.identity.size();
}
// Bytes of the whole link frame: header, frame, tag.
inline size_t link_frame_size(const LinkHeader& h) { return link_header_size(h) + h.frame_len + kLinkTagLen; }

enum class LinkCheck : uint8_t {
    Ok,
    Short,          // fewer bytes than the header and its lengths declare
    BadMagic,
    BadVersion,
    BadReserved,    // a reserved byte is not 0
    BadLength,      // a name or frame length out of range, or bytes after the tag
    NoDestination,  // neither dst_ip nor identity
    BadFrame,       // the relayed bytes are not exactly one Rustun Data frame
    BadTag,         // the AEAD tag does not verify (link_auth.hpp)
    UnknownSender,  // the sender is not a member of the fleet (the link's check)
    Replay,         // the sequence was seen already
    TooOld,         // the sequence is below the replay window
};
// Lower-case name for logs and tests, e.g. "bad_tag".
const char* link_check_name(LinkCheck c);

// Writes the header `h` into out[0..link_header_size(h)). False (nothing written) if a length is
// out of range (empty sender or cluster, a name over 255 bytes, frame_len outside 8..65543),
// there is no destination, or `out` is too small.
bool encode_link_header(const LinkHeader& h, std::span<uint8_t> out);

// A parsed link frame: its header, the relayed frame, and what the tag covers.
struct LinkFrameView {
    LinkHeader h;
    const uint8_t* frame = nullptr;  // h.frame_len bytes
    const uint8_t* nonce = nullptr;  // 12 bytes
    const uint8_t* tag = nullptr;    // 16 bytes
    size_t authenticated_len = 0;    // bytes [0, authenticated_len) are covered by the tag
};

// Parses exactly one link frame (`bytes` must end with its tag). Checks the format only, not the
// tag: LinkAuth::verify does that. The relayed frame must be one Rustun Data frame whose header
// length matches frame_len (the receiver writes it into a client's TCP stream as it is).
LinkCheck parse_link_frame(std::span<const uint8_t> bytes, LinkFrameView& out);

}  // namespace rustun::fleet
