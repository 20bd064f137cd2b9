// libFuzzer target for the dataplane's packet path, with the exact functions the workers run
// (dataplane_core, no DPDK): Ethernet/IP/UDP parsing, the STUN responder, the relay-port frame
// checks, the session table keyed by the source endpoint, the AEAD open of a Data frame under
// every cipher, the inner IPv4 checks, and the outer-header rewrite.
//
// Input: one Ethernet frame as received on the relay port (any bytes).
// Checked invariants (abort on violation):
//   * parse_udp: a Udp verdict has its payload inside the buffer and a family of 4 or 6, and
//     peek_udp_source, where it answers, names the same source address and port;
//   * STUN: a reply is 32 (IPv4) or 44 (IPv6) bytes and its XOR-MAPPED-ADDRESS decodes to the sender;
//   * check_frame: Data/Control frames lie inside the payload and are at least a header long;
//   * session table: the sender's endpoint, once bound, is found, and is gone after erase;
//   * open: Ok only with a plaintext inside the scratch buffer (never for random bytes in practice);
//   * rewrite: the outer headers built for a reply to the sender parse back to the same endpoint
//     and payload length, with valid checksums.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "crypto/cipher_key.hpp"
#include "crypto/crypto_engine.hpp"
#include "frame_check.hpp"
#include "packet.hpp"
#include "session_table.hpp"
#include "stun.hpp"

namespace {

using namespace rustun;
using namespace rustun::dp;

void check(bool ok) {
    if (!ok) std::abort();
}

struct Fixture {
    std::unique_ptr<CryptoEngine> engine;
    std::vector<std::unique_ptr<CipherKey>> keys;
    SessionTable sessions{64};
    std::vector<uint8_t> scratch = std::vector<uint8_t>(70000);
    Fixture() {
        auto e = CryptoEngine::create();
        check(e.ok());
        engine = std::move(*e);
        for (const char* spec : {"plain", "xor:fuzz", "chacha20:fuzz-key", "aes256:fuzz-key"}) {
            auto k = CipherKey::create(spec);
            check(k.ok());
            keys.push_back(std::move(*k));
        }
    }
};

void check_stun(const uint8_t* payload, uint32_t plen, const shm::Endpoint& from) {
    uint8_t reply[kStunMaxReplyLen];
    uint32_t rlen = 0;
    if (stun_binding_reply(payload, plen, from, reply, rlen) != StunResult::Reply) return;
    check(rlen == (from.family == 4 ? 32u : 44u));
    check(load_be32(reply + 4) == kStunMagicCookie && std::memcmp(reply + 8, payload + 8, 12) == 0);
    const uint8_t* a = reply + kStunHeaderLen;
    check(load_be16(a) == 0x0020);
    check(static_cast<uint16_t>(load_be16(a + 6) ^ (kStunMagicCookie >> 16)) == from.port);
    uint8_t mask[16];
    store_be32(mask, kStunMagicCookie);
    std::memcpy(mask + 4, reply + 8, 12);
    for (uint32_t i = 0; i < (from.family == 4 ? 4u : 16u); ++i) check((a[8 + i] ^ mask[i]) == from.addr[i]);
}

void check_rewrite(const shm::Endpoint& to, uint32_t payload_len) {
    if (payload_len > 1400) payload_len = 1400;
    OuterSource src{};
    const uint8_t src_mac[6] = {2, 0, 0, 0, 0, 1}, dst_mac[6] = {2, 0, 0, 0, 0, 2};
    std::memcpy(src.mac, src_mac, 6);
    src.addr4[0] = 192;
    src.addr4[3] = 1;
    src.addr6[0] = 0x20;
    src.has_addr6 = true;
    src.port = 8080;
    uint8_t out[2048] = {};
    const uint32_t hl = outer_header_len(to.family);
    write_outer(out, src, dst_mac, to, static_cast<uint16_t>(payload_len), false, 7);
    ParsedUdp p;
    check(parse_udp(out, hl + payload_len, p) == L3Kind::Udp);
    check(p.payload_len == payload_len && p.payload_off == hl && p.dst_port == to.port);
    check(std::memcmp(p.dst_addr, to.addr, to.family == 4 ? 4 : 16) == 0);
    check(outer_checksums_ok(out, hl + payload_len));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static Fixture fx;
    if (size > 9000) return 0;
    // A private, writable copy: the STUN reply and the AEAD may work in place in the real path.
    std::vector<uint8_t> frame(data, data + size);
    ParsedUdp p;
    const L3Kind kind = parse_udp(frame.data(), static_cast<uint32_t>(frame.size()), p);
    if (kind != L3Kind::Udp) return 0;
    check(p.family == 4 || p.family == 6);
    check(p.payload_off >= kEthLen && uint32_t{p.payload_off} + p.payload_len <= size);
    // The workers' early session prefetch (peek_udp_source) must name the same source.
    uint8_t pf = 0;
    uint16_t pport = 0;
    const uint8_t* paddr = nullptr;
    if (peek_udp_source(frame.data(), static_cast<uint32_t>(frame.size()), pf, pport, paddr))
        check(pf == p.family && pport == p.src_port && paddr == p.src_addr);
    const uint8_t* payload = frame.data() + p.payload_off;
    const uint32_t plen = p.payload_len;
    const shm::Endpoint from = source_endpoint(p);
    const EndpointKey key = EndpointKey::from(from);
    check(key.to_endpoint().family == from.family);

    check_rewrite(from, plen);
    if (looks_like_stun(payload, plen)) {
        check_stun(payload, plen, from);
        return 0;
    }
    const FrameCheck fc = check_frame(payload, plen);
    if (fc.verdict != FrameVerdict::Data && fc.verdict != FrameVerdict::Control) return 0;
    check(fc.frame_len >= kFrameHeaderSize && fc.frame_len <= plen);

    // The sender's binding, as the workers look it up.
    const uint32_t hash = endpoint_hash(key);
    check(fx.sessions.insert(key, 5) != SessionTable::Insert::Full);
    check(fx.sessions.lookup(key, hash) == 5);
    if (fc.verdict == FrameVerdict::Data) {
        for (const auto& k : fx.keys) {
            OpenItem it;
            it.key = k.get();
            std::vector<uint8_t> body(payload + kFrameHeaderSize, payload + fc.frame_len);
            it.payload = body.data();
            it.payload_len = static_cast<uint32_t>(body.size());
            it.out = fx.scratch.data();
            if (fx.engine->open(it) != CryptoStatus::Ok) continue;
            check(it.plaintext_len <= body.size());
            // The inner checks the worker applies next: IPv4, 20 bytes at least.
            if (it.plaintext_len >= 20 && (it.plaintext[0] >> 4) == 4) (void)load_be32(it.plaintext + 16);
        }
    }
    check(fx.sessions.erase(key));
    check(fx.sessions.lookup(key, hash) == kNoSession);
    return 0;
}
