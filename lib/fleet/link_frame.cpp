#include "fleet/link_frame.hpp"

#include <cstring>

#include "proto/frame.hpp"
#include "util/endian.hpp"

namespace rustun::fleet {

const char* link_check_name(LinkCheck c) {
    switch (c) {
        case LinkCheck::Ok: return "ok";
        case LinkCheck::Short: return "short";
        case LinkCheck::BadMagic: return "bad_magic";
        case LinkCheck::BadVersion: return "bad_version";
        case LinkCheck::BadReserved: return "bad_reserved";
        case LinkCheck::BadLength: return "bad_length";
        case LinkCheck::NoDestination: return "no_destination";
        case LinkCheck::BadFrame: return "bad_frame";
        case LinkCheck::BadTag: return "bad_tag";
        case LinkCheck::UnknownSender: return "unknown_sender";
        case LinkCheck::Replay: return "replay";
        case LinkCheck::TooOld: return "too_old";
    }
    return "unknown";
}

bool encode_link_header(const LinkHeader& h, std::span<uint8_t> out) {
    if (h.sender.empty() || h.sender.size() > kLinkMaxName || h.cluster.empty() || h.cluster.size() > kLinkMaxName ||
        h.identity.size() > kLinkMaxName || h.frame_len < kLinkMinFrame || h.frame_len > kLinkMaxFrame ||
        (h.dst_ip == 0 && h.identity.empty()) || out.size() < link_header_size(h))
        return false;
    uint8_t* p = out.data();
    std::memcpy(p, kLinkMagic, 4);
    p[4] = kLinkVersion;
    p[5] = p[6] = p[7] = 0;
    p[8] = static_cast<uint8_t>(h.sender.size());
    p[9] = static_cast<uint8_t>(h.cluster.size());
    p[10] = static_cast<uint8_t>(h.identity.size());
    p[11] = 0;
    store_be32(p + 12, h.frame_len);
    store_be32(p + 16, h.salt);
    store_be64(p + 20, h.seq);
    store_be32(p + 28, h.dst_ip);
    uint8_t* q = p + kLinkFixedHeader;
    std::memcpy(q, h.sender.data(), h.sender.size());
    q += h.sender.size();
    std::memcpy(q, h.cluster.data(), h.cluster.size());
    q += h.cluster.size();
    if (!h.identity.empty()) std::memcpy(q, h.identity.data(), h.identity.size());
    return true;
}

LinkCheck parse_link_frame(std::span<const uint8_t> bytes, LinkFrameView& out) {
    const uint8_t* p = bytes.data();
    const size_t n = bytes.size();
    if (n < kLinkFixedHeader) return LinkCheck::Short;
    if (std::memcmp(p, kLinkMagic, 4) != 0) return LinkCheck::BadMagic;
    if (p[4] != kLinkVersion) return LinkCheck::BadVersion;
    if (p[5] | p[6] | p[7] | p[11]) return LinkCheck::BadReserved;
    LinkHeader h;
    const size_t sender_len = p[8], cluster_len = p[9], identity_len = p[10];
    h.frame_len = load_be32(p + 12);
    h.salt = load_be32(p + 16);
    h.seq = load_be64(p + 20);
    h.dst_ip = load_be32(p + 28);
    if (sender_len == 0 || cluster_len == 0 || h.frame_len < kLinkMinFrame || h.frame_len > kLinkMaxFrame)
        return LinkCheck::BadLength;
    const size_t header = kLinkFixedHeader + sender_len + cluster_len + identity_len;
    const size_t total = header + h.frame_len + kLinkTagLen;
    if (n < total) return LinkCheck::Short;
    if (n > total) return LinkCheck::BadLength;
    if (h.dst_ip == 0 && identity_len == 0) return LinkCheck::NoDestination;
    const char* names = reinterpret_cast<const char*>(p + kLinkFixedHeader);
    h.sender = std::string_view(names, sender_len);
    h.cluster = std::string_view(names + sender_len, cluster_len);
    h.identity = std::string_view(names + sender_len + cluster_len, identity_len);
    const uint8_t* frame = p + header;
    FrameHeader fh;
    if (decode_header(std::span<const uint8_t>(frame, h.frame_len), fh) != HeaderStatus::Ok ||
        fh.frame_type() != FrameType::Data || fh.frame_size() != h.frame_len)
        return LinkCheck::BadFrame;
    out.h = h;
    out.frame = frame;
    out.nonce = p + kLinkNonceOffset;
    out.tag = p + header + h.frame_len;
    out.authenticated_len = header + h.frame_len;
    return LinkCheck::Ok;
}

}  // namespace rustun::fleet
