// Every frame of tests/data/vectors.json through the whole receive and send pipeline:
// reassembler -> header -> open with the cipher -> body decoder for its shape -> body encoder ->
// seal with the vector's fixed nonce -> header -> byte-identical frame. And every negative vector
// through the same pipeline, with the result docs/protocol.md, "Test vectors" documents.
#include <gtest/gtest.h>

#include <string>

#include "../crypto/vector_data.hpp"
#include "crypto/cipher_key.hpp"
#include "crypto/crypto_engine.hpp"
#include "proto/dialect.hpp"
#include "proto/frame.hpp"
#include "proto/messages.hpp"
#include "proto/reassembler.hpp"

namespace rustun::test {
namespace {

std::string shape_of(const std::string& id) {  // "chacha20/HEAD/handshake" -> "HEAD"
    auto a = id.find('/');
    return id.substr(a + 1, id.find('/', a + 1) - a - 1);
}

struct Pipeline {
    std::unique_ptr<CryptoEngine> engine = std::move(CryptoEngine::create().value());

    // Frame bytes -> (type, plaintext); fails on framing or authentication.
    bool receive(const Bytes& frame, const CipherKey& key, uint8_t& type, std::string& plaintext, std::string& why) {
        Reassembler r;
        r.feed(frame.data(), frame.size());
        ReadResult rr = r.next();
        if (rr.status != ReadStatus::Frame) {
            why = "framing status " + std::to_string(static_cast<int>(rr.status));
            return false;
        }
        type = rr.type;
        Bytes payload(rr.payload.begin(), rr.payload.end());
        OpenItem it;
        it.key = &key;
        it.payload = payload.data();
        it.payload_len = static_cast<uint32_t>(payload.size());
        if (engine->open(it) != CryptoStatus::Ok) {
            why = std::string("open: ") + crypto_status_name(it.status);
            return false;
        }
        plaintext.assign(reinterpret_cast<const char*>(it.plaintext), it.plaintext_len);
        return true;
    }

    // Decodes the body for its type and shape and re-encodes it the same way.
    std::string reencode(uint8_t type, const std::string& shape, const std::string& json, std::string& why) {
        std::string out;
        const bool old = shape == "dbde974";
        switch (static_cast<FrameType>(type)) {
            case FrameType::Handshake: {
                auto m = decode_handshake(json, old ? DecodeMode::StrictOld : DecodeMode::StrictNew);
                if (!m) return why = m.error(), "";
                encode_handshake(m.value(), old ? Shape::Old : Shape::New, out);
                break;
            }
            case FrameType::HandshakeReply: {
                ReplyShape rs = shape == "compat" ? ReplyShape::Superset : old ? ReplyShape::Old : ReplyShape::New;
                auto m = decode_handshake_reply(json, rs);
                if (!m) return why = m.error(), "";
                encode_handshake_reply(m.value(), rs, out);
                break;
            }
            case FrameType::KeepAlive: {
                auto m = decode_keepalive(json, old ? DecodeMode::StrictOld : DecodeMode::StrictNew);
                if (!m) return why = m.error(), "";
                encode_keepalive(m.value(), old ? Shape::Old : Shape::New, out);
                break;
            }
            case FrameType::PeerUpdate: {
                auto m = decode_peer_update(json);
                if (!m) return why = m.error(), "";
                encode_peer_update(m.value(), out);
                break;
            }
            case FrameType::ProbeIPv6:
            case FrameType::ProbeHolePunch: {
                auto m = decode_probe(json);
                if (!m) return why = m.error(), "";
                encode_probe(m.value(), out);
                break;
            }
            case FrameType::Data: out = json; break;
            default: why = "unexpected type"; return "";
        }
        return out;
    }

    Bytes send(uint8_t type, const std::string& plaintext, const CipherKey& key, const Bytes& nonce) {
        Bytes frame(kFrameHeaderSize + plaintext.size() + key.overhead());
        uint32_t len = 0;
        CryptoStatus st = engine->seal(key, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(plaintext.data()), plaintext.size()),
                                       std::span<uint8_t>(frame.data() + kFrameHeaderSize, frame.size() - kFrameHeaderSize), len,
                                       nonce.empty() ? nullptr : nonce.data());
        EXPECT_EQ(st, CryptoStatus::Ok);
        EXPECT_TRUE(encode_header(static_cast<FrameType>(type), len, std::span<uint8_t>(frame.data(), kFrameHeaderSize)).ok());
        frame.resize(kFrameHeaderSize + len);
        return frame;
    }
};

std::unique_ptr<CipherKey> key_for(const std::string& cipher) {
    return std::move(CipherKey::create(CipherSpec::parse(vector_file().config_for(cipher)).value()).value());
}

TEST(Vectors, EveryFrameRoundTripsByteIdentical) {
    Pipeline p;
    size_t n = 0;
    for (const FrameVector& v : vector_file().vectors) {
        SCOPED_TRACE(v.id);
        auto key = key_for(v.cipher);
        uint8_t type = 0;
        std::string pt, why;
        ASSERT_TRUE(p.receive(v.frame, *key, type, pt, why)) << why;
        EXPECT_EQ(type, v.frame_type);
        EXPECT_EQ(Bytes(pt.begin(), pt.end()), v.plaintext);
        std::string again = p.reencode(type, shape_of(v.id), pt, why);
        ASSERT_FALSE(again.empty()) << why;
        EXPECT_EQ(again, pt);
        EXPECT_EQ(p.send(type, again, *key, v.nonce), v.frame);
        ++n;
    }
    EXPECT_EQ(n, 52u);
}

TEST(Vectors, EveryNegativeVectorGivesTheDocumentedResult) {
    Pipeline p;
    auto key = key_for("chacha20");
    const VectorFile& f = vector_file();
    auto framing = [&](const char* id) {
        Reassembler r;
        const Bytes& b = f.negative_by_id(id).frame;
        r.feed(b.data(), b.size());
        return r.next().status;
    };
    EXPECT_EQ(framing("negative/bad_magic"), ReadStatus::BadMagic);
    EXPECT_EQ(framing("negative/bad_version"), ReadStatus::BadVersion);
    EXPECT_EQ(framing("negative/unknown_type_8"), ReadStatus::UnknownType);
    EXPECT_EQ(framing("negative/truncated_header_7_bytes"), ReadStatus::NeedMore);
    EXPECT_EQ(framing("negative/truncated_payload"), ReadStatus::NeedMore);

    uint8_t type;
    std::string pt, why;
    ASSERT_TRUE(p.receive(f.negative_by_id("negative/valid_baseline_keepalive_dbde974").frame, *key, type, pt, why)) << why;
    EXPECT_TRUE(decode_keepalive(pt, DecodeMode::StrictOld).ok());
    for (const char* id : {"negative/tampered_tag", "negative/tampered_ciphertext", "negative/aead_payload_shorter_than_28"}) {
        EXPECT_FALSE(p.receive(f.negative_by_id(id).frame, *key, type, pt, why)) << id;
        EXPECT_EQ(why.rfind("open:", 0), 0u) << id << ": " << why;
    }
    // Type 5: a PeerUpdate for dbde974 (same JSON keys as its KeepAlive); HEAD has no such type.
    ASSERT_TRUE(p.receive(f.negative_by_id("negative/type5_on_HEAD").frame, *key, type, pt, why));
    EXPECT_EQ(type, 5);
    EXPECT_TRUE(decode_peer_update(pt).ok());
    EXPECT_FALSE(may_send_on_tcp(Dialect::New, 5));
    // Retyped: the header is not authenticated, so the KeepAlive body arrives as a Handshake.
    ASSERT_TRUE(p.receive(f.negative_by_id("negative/retyped_keepalive_as_handshake").frame, *key, type, pt, why));
    EXPECT_EQ(type, static_cast<uint8_t>(FrameType::Handshake));
    EXPECT_TRUE(decode_handshake(pt, DecodeMode::StrictOld).ok());
    // Trailing UDP bytes: the first frame is taken, the rest is not part of it.
    Reassembler r;
    const Bytes& t = f.negative_by_id("negative/udp_trailing_bytes").frame;
    r.feed(t.data(), t.size());
    EXPECT_EQ(r.next().status, ReadStatus::Frame);
    EXPECT_EQ(r.buffered(), 2u);
    // A HEAD Handshake: refused by a dbde974 parser, accepted by HEAD and by our lenient one.
    ASSERT_TRUE(p.receive(f.negative_by_id("negative/HEAD_handshake_to_dbde974_parser").frame, *key, type, pt, why));
    EXPECT_FALSE(decode_handshake(pt, DecodeMode::StrictOld).ok());
    EXPECT_TRUE(decode_handshake(pt, DecodeMode::StrictNew).ok());
    auto lenient = decode_handshake(pt, DecodeMode::Lenient);
    ASSERT_TRUE(lenient.ok());
    EXPECT_EQ(detect_dialect(lenient.value()), Dialect::New);
    EXPECT_EQ(f.negative.size(), 13u);
}

}  // namespace
}  // namespace rustun::test
