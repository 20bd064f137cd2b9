#include "shm/messages.hpp"

#include <cstring>
#include <span>

#include "proto/frame.hpp"

namespace rustun::shm {

namespace {

// The header of `copy` if it has type `t` and a len that covers `fixed` and stays in the slot.
MsgCheck check_header(const uint8_t* copy, MsgType t, uint32_t fixed, MsgHeader& h) {
    std::memcpy(&h, copy, sizeof h);
    if (h.type != static_cast<uint16_t>(t)) return MsgCheck::BadType;
    if (h.len < fixed || h.len > kMaxBody) return MsgCheck::BadLength;
    return MsgCheck::Ok;
}

// frame_len within the body after `fixed` bytes and within a slot's frame area.
bool frame_fits(const MsgHeader& h, uint32_t fixed, uint16_t frame_len) {
    return frame_len <= kMaxFrameInSlot && frame_len <= h.len - fixed;
}

// These bytes go into a client's TCP stream (or a datagram) as they are: exactly one Data frame,
// or the stream would be desynchronised (or carry a forged frame of another type).
MsgCheck one_data_frame(const uint8_t* frame, uint16_t len) {
    FrameHeader fh;
    if (decode_header(std::span<const uint8_t>(frame, len), fh) != HeaderStatus::Ok ||
        fh.frame_type() != FrameType::Data || fh.frame_size() != len)
        return MsgCheck::BadFrame;
    return MsgCheck::Ok;
}

}  // namespace

const char* msg_check_name(MsgCheck c) {
    switch (c) {
        case MsgCheck::Ok: return "ok";
        case MsgCheck::BadType: return "unexpected type";
        case MsgCheck::BadLength: return "bad length";
        case MsgCheck::BadFrame: return "not exactly one Data frame";
    }
    return "?";
}

MsgCheck parse_punt(const uint8_t* copy, PuntView& out) {
    constexpr uint32_t fixed = offsetof(PuntMsg, frame);
    MsgHeader h;
    if (MsgCheck c = check_header(copy, MsgType::Punt, fixed, h); c != MsgCheck::Ok) return c;
    const uint8_t* body = copy + sizeof h;
    std::memcpy(&out.from, body + offsetof(PuntMsg, from), sizeof out.from);
    std::memcpy(&out.client_hint, body + offsetof(PuntMsg, client_hint), sizeof out.client_hint);
    std::memcpy(&out.frame_len, body + offsetof(PuntMsg, frame_len), sizeof out.frame_len);
    if (!frame_fits(h, fixed, out.frame_len)) return MsgCheck::BadLength;
    out.frame = body + fixed;
    return MsgCheck::Ok;
}

MsgCheck parse_deliver(const uint8_t* copy, DeliverView& out) {
    constexpr uint32_t fixed = offsetof(TcpDeliverMsg, frame);
    MsgHeader h;
    if (MsgCheck c = check_header(copy, MsgType::TcpDeliver, fixed, h); c != MsgCheck::Ok) return c;
    const uint8_t* body = copy + sizeof h;
    std::memcpy(&out.src_client, body + offsetof(TcpDeliverMsg, src_client), 4);
    std::memcpy(&out.dst_client, body + offsetof(TcpDeliverMsg, dst_client), 4);
    std::memcpy(&out.frame_len, body + offsetof(TcpDeliverMsg, frame_len), 2);
    std::memcpy(&out.cp_epoch, body + offsetof(TcpDeliverMsg, cp_epoch), 8);
    if (!frame_fits(h, fixed, out.frame_len)) return MsgCheck::BadLength;
    out.frame = body + fixed;
    return one_data_frame(out.frame, out.frame_len);
}

MsgCheck parse_linktx(const uint8_t* copy, LinkTxView& out) {
    constexpr uint32_t fixed = offsetof(LinkTxMsg, frame);
    MsgHeader h;
    if (MsgCheck c = check_header(copy, MsgType::LinkTx, fixed, h); c != MsgCheck::Ok) return c;
    const uint8_t* body = copy + sizeof h;
    std::memcpy(&out.dst_client, body + offsetof(LinkTxMsg, dst_client), 4);
    std::memcpy(&out.dst_ip, body + offsetof(LinkTxMsg, dst_ip), 4);
    std::memcpy(&out.frame_len, body + offsetof(LinkTxMsg, frame_len), 2);
    if (!frame_fits(h, fixed, out.frame_len)) return MsgCheck::BadLength;
    out.frame = body + fixed;
    return one_data_frame(out.frame, out.frame_len);  // the receiving member delivers it as it is
}

MsgCheck parse_txframe(const uint8_t* copy, TxFrameView& out) {
    constexpr uint32_t fixed = offsetof(TxFrameMsg, frame);
    MsgHeader h;
    if (MsgCheck c = check_header(copy, MsgType::TxFrame, fixed, h); c != MsgCheck::Ok) return c;
    const uint8_t* body = copy + sizeof h;
    std::memcpy(&out.to, body + offsetof(TxFrameMsg, to), sizeof out.to);
    std::memcpy(&out.frame_len, body + offsetof(TxFrameMsg, frame_len), sizeof out.frame_len);
    if (!frame_fits(h, fixed, out.frame_len)) return MsgCheck::BadLength;
    if ((out.to.family != 4 && out.to.family != 6) || out.to.port == 0) return MsgCheck::BadFrame;
    out.frame = body + fixed;
    return MsgCheck::Ok;
}

MsgCheck parse_control_header(const uint8_t* copy, MsgHeader& out) {
    std::memcpy(&out, copy, sizeof out);
    return out.len <= kMaxBody ? MsgCheck::Ok : MsgCheck::BadLength;
}

}  // namespace rustun::shm
