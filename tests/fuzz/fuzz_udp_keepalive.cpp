// libFuzzer target for the UDP KeepAlive punt handler's pure part (lib/net/udp_keepalive.hpp):
// frame checks, trial decryption with an input-ordered key list, KeepAlive decoding with the UDP
// extension members (seq, cookie, replay), the seq window, and the return-routability cookie.
//
// Input layout: byte 0 = key order (bits 0-1: first key, bit 2: reverse the rest); bytes 1..8 =
// last_seq, 9..16 = now_us (little-endian); bytes 17.. = the punted frame. Keys: plain, xor,
// chacha20, aes256 — so corpus frames of the plain cluster reach the JSON decoder unencrypted.
//
// Checked invariants (abort on violation): an opened body comes from a key that was offered; the
// reported frame size fits the input; check_keepalive_seq never accepts a seq at or below
// last_seq or outside the window; a cookie made for (identity, endpoint, now) verifies at now and
// 30 s later and not for another endpoint; an accepted body re-encodes into one that decodes to
// the same UDP extension members.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "crypto/cipher_key.hpp"
#include "crypto/cipher_spec.hpp"
#include "crypto/crypto_engine.hpp"
#include "crypto/rr_cookie.hpp"
#include "net/udp_keepalive.hpp"
#include "proto/frame.hpp"
#include "proto/messages.hpp"

namespace {

using namespace rustun;

void check(bool ok) {
    if (!ok) std::abort();
}

struct Env {
    std::unique_ptr<CryptoEngine> eng;
    std::vector<std::unique_ptr<CipherKey>> keys;
    std::vector<uint8_t> scratch = std::vector<uint8_t>(kMaxFrameSize);
    std::unique_ptr<RrCookie> cookie;
    Env() {
        eng = std::move(CryptoEngine::create().value());
        for (const char* s : {"plain", "xor:rustun", "chacha20:rustun", "aes256:other-tenant-key"})
            keys.push_back(std::move(CipherKey::create(CipherSpec::parse(s).value()).value()));
        const uint8_t k[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
        cookie = std::make_unique<RrCookie>(k);
    }
};

uint64_t le64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
    return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static Env env;
    if (size < 17) return 0;
    const uint8_t sel = data[0];
    const uint64_t last_seq = le64(data + 1), now_us = le64(data + 9);
    const uint8_t* frame = data + 17;
    const size_t len = size - 17;

    std::vector<const CipherKey*> order;
    const size_t first = sel & 3;
    order.push_back(env.keys[first].get());
    for (size_t i = 0; i < env.keys.size(); ++i) {
        const size_t k = (sel & 4) ? env.keys.size() - 1 - i : i;
        if (k != first) order.push_back(env.keys[k].get());
    }
    UdpKeepAliveOpened out;
    // Accept identities of odd length for even key positions and vice versa: both outcomes.
    const auto r = open_udp_keepalive(
        frame, len, order, *env.eng, env.scratch.data(),
        [](const KeepAlive& ka, size_t k) { return (ka.identity.size() + k) % 2 == 1 || ka.identity == "client-a"; },
        out);
    if (r != UdpKeepAliveOpen::Ok) return 0;
    check(out.key_index < order.size());
    check(out.frame_size >= kFrameHeaderSize && out.frame_size <= len);

    constexpr uint64_t kWindow = 30'000'000;
    const uint64_t floor_us = now_us / 2;
    const SeqCheck sc = check_keepalive_seq(out.ka.seq, last_seq, floor_us, now_us, kWindow);
    if (sc == SeqCheck::Ok) {
        const uint64_t s = *out.ka.seq;
        check(s > last_seq && s > floor_us);
        check(s >= now_us ? s - now_us <= kWindow : now_us - s <= kWindow);
    }
    check((sc == SeqCheck::Missing) == !out.ka.seq.has_value());

    uint8_t ep[20] = {4, 0};
    std::memcpy(ep + 2, data + 1, 4);
    const std::string c = env.cookie->make(out.ka.identity, ep, sizeof ep, now_us / 1'000'000);
    check(c.size() == RrCookie::kTextLen);
    check(env.cookie->verify(c, out.ka.identity, ep, sizeof ep, now_us / 1'000'000));
    check(env.cookie->verify(c, out.ka.identity, ep, sizeof ep, now_us / 1'000'000 + RrCookie::kBucketSeconds));
    uint8_t ep2[20];
    std::memcpy(ep2, ep, sizeof ep);
    ep2[19] ^= 1;
    check(!env.cookie->verify(c, out.ka.identity, ep2, sizeof ep2, now_us / 1'000'000));
    if (out.ka.cookie) (void)env.cookie->verify(*out.ka.cookie, out.ka.identity, ep, sizeof ep, now_us / 1'000'000);

    std::string body;
    encode_keepalive(out.ka, out.ka.shape, body);
    auto again = decode_keepalive(body);
    check(again.ok());
    check(again->identity == out.ka.identity && again->seq == out.ka.seq && again->cookie == out.ka.cookie &&
          again->replay == out.ka.replay);
    return 0;
}
