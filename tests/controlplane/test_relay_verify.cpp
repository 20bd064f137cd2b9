// The TCP relay authenticates Data frames over the ciphertext and decrypts only the inner header
// (docs/dataplane.md, "Verify, don't decrypt"): a frame with any nonce, ciphertext or tag byte
// changed must still close its sender (counted in decrypt_failed) and reach nobody, for both
// AEADs, at sizes where each takes the verify path; an intact frame is relayed byte for byte and
// opens at the receiver.
#include "harness.hpp"

namespace rustun::cp::test {
namespace {

std::string_view as_text(const std::vector<uint8_t>& v) { return {reinterpret_cast<const char*>(v.data()), v.size()}; }

class RelayVerify : public GatewayFixture {};

TEST_F(RelayVerify, AnyChangedByteClosesTheSenderAndIsCounted) {
    start();
    struct Pair {
        const char *from, *to, *src_ip, *dst_ip;
        const CipherSpec& key;
    };
    // Cluster "test" (chacha20) and cluster "other" (aes256): 1100-byte inner packets, above
    // AES-256-GCM's verify threshold on every IPsec-MB arch (EngineOptions::kDefaultVerifyFromGcm*).
    static_assert(EngineOptions::kDefaultVerifyFromGcm <= 1100 && EngineOptions::kDefaultVerifyFromGcmAvx512 <= 1100);
    const Pair pairs[] = {{"client-a", "client-b", "10.0.1.2", "10.0.1.3", test_key()},
                          {"client-x", "client-y", "10.0.1.2", "10.0.1.9", other_key()}};
    uint64_t failed = 0;
    for (const Pair& p : pairs) {
        auto rx = join(p.to, Dialect::New, nullptr, p.key);
        ASSERT_TRUE(rx);
        const auto pkt = ipv4_packet(p.src_ip, p.dst_ip, 1100);
        const size_t hdr = kFrameHeaderSize, nonce = 12, tag = 16;
        std::vector<size_t> positions;
        for (size_t i = hdr; i < hdr + nonce; i += 3) positions.push_back(i);  // nonce
        for (size_t i : {0, 1, 12, 15, 16, 19, 20, 31, 32, 500, 1099})  // ciphertext: header, addresses, rest
            positions.push_back(hdr + nonce + i);
        for (size_t i = 0; i < tag; i += 5) positions.push_back(hdr + nonce + pkt.size() + i);  // tag
        for (size_t pos : positions) {
            auto tx = join(p.from, Dialect::New, nullptr, p.key);
            ASSERT_TRUE(tx);
            auto f = tx->seal_frame(FrameType::Data, as_text(pkt));
            ASSERT_TRUE(f.ok());
            (*f)[pos] ^= 0x20;
            ASSERT_TRUE(tx->send_raw(f->data(), f->size()).ok());
            EXPECT_TRUE(tx->wait_closed(3000)) << p.from << " byte " << pos;
            EXPECT_TRUE(wait_counter(Counter::decrypt_failed, ++failed)) << p.from << " byte " << pos;
        }
        EXPECT_EQ(counter(Counter::decrypt_failed), failed);
        // The intact frame: relayed unchanged, and it opens at the receiver.
        auto tx = join(p.from, Dialect::New, nullptr, p.key);
        ASSERT_TRUE(tx);
        auto f = tx->seal_frame(FrameType::Data, as_text(pkt));
        ASSERT_TRUE(f.ok());
        ASSERT_TRUE(tx->send_raw(f->data(), f->size()).ok());
        for (;;) {
            auto got = rx->recv(3000);
            ASSERT_TRUE(got.ok()) << p.to << ": " << got.error();
            if (got->frame_type() != FrameType::Data) continue;  // PeerUpdates from the joins
            EXPECT_EQ(got->raw, *f);
            EXPECT_TRUE(got->authentic);
            EXPECT_EQ(got->plaintext, pkt);
            break;
        }
    }
}

}  // namespace
}  // namespace rustun::cp::test
