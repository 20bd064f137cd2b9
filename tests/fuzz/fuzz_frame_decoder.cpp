// libFuzzer target for the frame codec: the TCP reassembler fed in input-chosen chunks, and every
// body decoder on each complete frame payload and on the raw input.
//
// Input layout: byte 0 selects the feeding pattern (bits 0-2: chunk size class, bit 3: use
// write_area()/commit() instead of feed(), bit 4: lower the length bound to 300 bytes, bits 5-7:
// seed of the chunk-size sequence); bytes 1.. are the stream. The raw input (all bytes) is also
// given to the body decoders.
//
// Checked invariants (abort on violation): reassembler byte accounting and bounds; for every body
// that decodes, encode -> decode -> encode is a fixed point (the writer's output is accepted by
// the reader and stable).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "proto/dialect.hpp"
#include "proto/frame.hpp"
#include "proto/messages.hpp"
#include "proto/reassembler.hpp"

namespace {

using namespace rustun;

void check(bool ok) {
    if (!ok) std::abort();
}

// decode(text) must succeed on text = encode(m), and encode(decode(text)) == text.
template <typename Decode, typename Encode>
void check_fixed_point(const std::string& text, Decode decode, Encode encode) {
    auto again = decode(text);
    check(again.ok());
    std::string text2;
    encode(*again, text2);
    check(text2 == text);
}

void run_body_decoders(std::string_view json) {
    for (DecodeMode mode : {DecodeMode::Lenient, DecodeMode::StrictOld, DecodeMode::StrictNew}) {
        if (auto hs = decode_handshake(json, mode)) {
            const Shape shape = mode == DecodeMode::StrictOld ? Shape::Old
                                : mode == DecodeMode::StrictNew ? Shape::New
                                                                : body_shape(detect_dialect(*hs));
            std::string text;
            encode_handshake(*hs, shape, text);
            check_fixed_point(
                text, [&](std::string_view t) { return decode_handshake(t, mode); },
                [&](const Handshake& m, std::string& out) { encode_handshake(m, shape, out); });
        }
        if (auto ka = decode_keepalive(json, mode)) {
            const Shape shape = ka->shape;
            (void)dialect_of_keepalive(*ka);
            std::string text;
            encode_keepalive(*ka, shape, text);
            check_fixed_point(
                text, [&](std::string_view t) { return decode_keepalive(t, mode); },
                [&](const KeepAlive& m, std::string& out) { encode_keepalive(m, shape, out); });
        }
    }
    for (ReplyShape shape : {ReplyShape::Old, ReplyShape::New, ReplyShape::Superset}) {
        if (auto reply = decode_handshake_reply(json, shape)) {
            std::string text;
            encode_handshake_reply(*reply, shape, text);
            check_fixed_point(
                text, [&](std::string_view t) { return decode_handshake_reply(t, shape); },
                [&](const HandshakeReply& m, std::string& out) {
                    encode_handshake_reply(m, shape, out);
                });
        }
    }
    if (auto pu = decode_peer_update(json)) {
        std::string text;
        encode_peer_update(*pu, text);
        check_fixed_point(text, decode_peer_update,
                          [](const PeerUpdate& m, std::string& out) { encode_peer_update(m, out); });
    }
    if (auto probe = decode_probe(json)) {
        std::string text;
        encode_probe(*probe, text);
        check_fixed_point(text, decode_probe,
                          [](const Probe& m, std::string& out) { encode_probe(m, out); });
    }
}

// Deterministic chunk sizes from the selector byte.
class Chunker {
public:
    explicit Chunker(uint8_t selector) : state_(0x9E3779B9u * (1u + (selector >> 5))) {
        static constexpr size_t kMaxChunk[8] = {1, 2, 7, 64, 1500, 9000, 70000, 3};
        max_ = kMaxChunk[selector & 7];
    }
    size_t next() {
        state_ = state_ * 1664525u + 1013904223u;
        return 1 + (state_ >> 8) % max_;
    }

private:
    uint32_t state_;
    size_t max_;
};

// Drains complete frames; returns false once the stream is in a sticky error.
bool drain(Reassembler& r, size_t& consumed) {
    for (;;) {
        const ReadResult res = r.next();
        switch (res.status) {
            case ReadStatus::NeedMore:
                return true;
            case ReadStatus::Frame:
                check(is_known_type(res.type));
                check(res.payload.size() == res.payload_length);
                check(res.payload_length <= r.max_payload());
                consumed += kFrameHeaderSize + res.payload_length;
                run_body_decoders({reinterpret_cast<const char*>(res.payload.data()),
                                   res.payload.size()});
                break;
            case ReadStatus::UnknownType:
                check(!is_known_type(res.type));
                check(res.payload.empty());
                consumed += kFrameHeaderSize + res.payload_length;
                break;
            case ReadStatus::LengthRefused:
                check(res.payload_length > r.max_payload());
                [[fallthrough]];
            case ReadStatus::BadMagic:
            case ReadStatus::BadVersion:
                check(r.failed());
                check(r.next().status == res.status);  // sticky
                check(r.write_area().empty());
                return false;
        }
    }
}

void run_reassembler(uint8_t selector, const uint8_t* data, size_t size) {
    Reassembler r((selector & 0x10) != 0 ? 300 : kMaxPayloadSize);
    const bool use_write_area = (selector & 0x08) != 0;
    Chunker chunks(selector);
    size_t fed = 0;
    size_t consumed = 0;
    while (fed < size) {
        const size_t want = std::min(chunks.next(), size - fed);
        size_t n = 0;
        if (use_write_area) {
            const std::span<uint8_t> area = r.write_area();
            n = std::min(want, area.size());
            std::memcpy(area.data(), data + fed, n);
            r.commit(n);
        } else {
            n = r.feed(data + fed, want);
        }
        fed += n;
        if (!drain(r, consumed)) return;
        check(consumed + r.buffered() == fed);
        // After draining, a healthy reassembler always has room for the frame in progress.
        check(n > 0 || want == 0);
        check(!r.write_area().empty());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    run_body_decoders({reinterpret_cast<const char*>(data), size});
    if (size > 0) run_reassembler(data[0], data + 1, size - 1);
    return 0;
}
