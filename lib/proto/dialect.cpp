#include "proto/dialect.hpp"

namespace rustun {

std::string_view dialect_name(Dialect d) {
    return d == Dialect::Old ? "dbde974" : "HEAD";
}

Dialect detect_dialect(const Handshake& hs) {
    return hs.has_ipv6 && hs.has_port ? Dialect::Old : Dialect::New;
}

Dialect dialect_of_keepalive(const KeepAlive& ka) {
    return ka.has_name || ka.has_stun_ip ? Dialect::New : Dialect::Old;
}

Shape body_shape(Dialect d) { return d == Dialect::Old ? Shape::Old : Shape::New; }

ReplyShape reply_shape(Dialect d) { return d == Dialect::Old ? ReplyShape::Old : ReplyShape::New; }

bool may_send_on_tcp(Dialect d, uint8_t type) {
    switch (static_cast<FrameType>(type)) {
        case FrameType::Handshake:
        case FrameType::KeepAlive:
        case FrameType::Data:
        case FrameType::HandshakeReply:
            return true;
        case FrameType::PeerUpdate:
            return d == Dialect::Old;
        case FrameType::ProbeIPv6:
        case FrameType::ProbeHolePunch:
            return false;
    }
    return false;
}

}  // namespace rustun
