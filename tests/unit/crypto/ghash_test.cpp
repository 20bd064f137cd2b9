// The verify path's own GHASH (lib/crypto/ghash_clmul.hpp): both carry-less paths (128-bit
// PCLMULQDQ and, where the CPU has it, 256-bit VPCLMULQDQ) must equal the bit-serial definition
// of NIST SP 800-38D (Algorithm 1 and 2) for every length 0..40 blocks (every remainder of the
// 8-block aggregation, chained from a non-zero state), the published GCM test case, and
// IPsec-MB's IMB_GHASH under a configured AES-256 key.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <string>
#include <random>
#include <vector>

#include "crypto/cipher_key.hpp"
#include "crypto/ghash_clmul.hpp"
#include "crypto/imb_mgr.hpp"

namespace rustun {
namespace {

using Block = std::array<uint8_t, 16>;

// X * Y in GF(2^128) exactly as SP 800-38D section 6.3 defines it (bit 0 = MSB of byte 0).
Block gf_mul_spec(const Block& x, const Block& y) {
    Block z{}, v = y;
    for (int i = 0; i < 128; ++i) {
        if ((x[i / 8] >> (7 - i % 8)) & 1) {
            for (int b = 0; b < 16; ++b) z[b] ^= v[b];
        }
        const bool lsb = v[15] & 1;
        for (int b = 15; b > 0; --b) v[b] = static_cast<uint8_t>((v[b] >> 1) | (v[b - 1] << 7));
        v[0] >>= 1;
        if (lsb) v[0] ^= 0xe1;  // R = 11100001 || 0^120
    }
    return z;
}

Block ghash_spec(const Block& h, Block y, const uint8_t* data, size_t nblocks) {
    for (size_t i = 0; i < nblocks; ++i) {
        for (int b = 0; b < 16; ++b) y[b] ^= data[16 * i + b];
        y = gf_mul_spec(y, h);
    }
    return y;
}

Block hex_block(const char* hex) {
    Block b{};
    for (int i = 0; i < 16; ++i) b[i] = static_cast<uint8_t>(std::stoi(std::string(hex + 2 * i, 2), nullptr, 16));
    return b;
}

using Path = void (*)(const GhashKey&, uint8_t*, const uint8_t*, size_t);

std::vector<std::pair<const char*, Path>> paths() {
    std::vector<std::pair<const char*, Path>> p{{"pclmul", ghash_update_pclmul}, {"dispatch", ghash_update}};
    if (ghash_vpclmul_supported()) p.emplace_back("vpclmul", ghash_update_vpclmul);
    return p;
}

TEST(Ghash, PublishedGcmTestCase2) {
    if (!ghash_supported()) GTEST_SKIP() << "no PCLMULQDQ/AES-NI";
    // The GCM specification's test case 2 (AES-128, K = 0, P = 0^128): H = E_K(0^128),
    // GHASH(H, {}, C) over C || len(A)=0 || len(C)=128.
    const Block h = hex_block("66e94bd4ef8a2c3b884cfa59ca342b2e");
    const Block c = hex_block("0388dace60b6a392f328c2b971b2fe78");
    const Block len = hex_block("00000000000000000000000000000080");
    const Block expect = hex_block("f38cbb1ad69223dcc3457ae5b6b0f885");
    uint8_t msg[32];
    std::memcpy(msg, c.data(), 16);
    std::memcpy(msg + 16, len.data(), 16);
    EXPECT_EQ(ghash_spec(h, Block{}, msg, 2), expect) << "the bit-serial reference itself";
    GhashKey key;
    ghash_key_from_h(key, h.data());
    for (const auto& [name, fn] : paths()) {
        Block y{};
        fn(key, y.data(), msg, 2);
        EXPECT_EQ(y, expect) << name;
    }
}

TEST(Ghash, EveryLengthSameAsSpecChained) {
    if (!ghash_supported()) GTEST_SKIP() << "no PCLMULQDQ/AES-NI";
    std::mt19937_64 rng(7);
    for (int trial = 0; trial < 6; ++trial) {
        Block h{}, y0{};
        for (auto& b : h) b = static_cast<uint8_t>(rng());
        for (auto& b : y0) b = static_cast<uint8_t>(trial == 0 ? 0 : rng());
        GhashKey key;
        ghash_key_from_h(key, h.data());
        std::vector<uint8_t> data(16 * 41);
        for (auto& b : data) b = static_cast<uint8_t>(rng());
        for (size_t nb = 0; nb <= 40; ++nb) {
            const Block expect = ghash_spec(h, y0, data.data() + 3, nb);  // unaligned input
            for (const auto& [name, fn] : paths()) {
                Block y = y0;
                fn(key, y.data(), data.data() + 3, nb);
                EXPECT_EQ(y, expect) << name << " trial " << trial << " blocks " << nb;
            }
        }
    }
}

TEST(Ghash, SameAsIpsecMbUnderAConfiguredKey) {
    if (!ghash_supported()) GTEST_SKIP() << "no PCLMULQDQ/AES-NI";
    auto key = CipherKey::create("aes256:ghash-test");
    ASSERT_TRUE(key.ok()) << key.error();
    ASSERT_TRUE((*key)->has_ghash_key());
    imb::MgrPtr mgr = std::move(imb::make_mgr()).value();
    std::mt19937_64 rng(11);
    std::vector<uint8_t> data(16 * 100);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    for (size_t nb : {1, 2, 7, 8, 9, 15, 16, 17, 33, 88, 100}) {
        Block imb_y{}, ours{};
        IMB_GHASH(mgr.get(), (*key)->gcm_key(), data.data(), nb * 16, imb_y.data(), 16);
        ghash_update((*key)->ghash_key(), ours.data(), data.data(), nb);
        EXPECT_EQ(ours, imb_y) << nb << " blocks";
    }
}

// The fleet link's tag (lib/fleet/link_auth.cpp) on the AVX2/SSE arches: GCM over an empty
// plaintext with the frame as associated data, as IPsec-MB computes it, for every tail length.
TEST(Ghash, GmacSameAsIpsecMbGcmWithEmptyPlaintext) {
    if (!ghash_supported()) GTEST_SKIP() << "no PCLMULQDQ/AES-NI";
    auto key = CipherKey::create("aes256:gmac-test");
    ASSERT_TRUE(key.ok()) << key.error();
    imb::MgrPtr mgr = std::move(imb::make_mgr()).value();
    gcm_context_data ctx{};
    std::mt19937_64 rng(13);
    std::vector<uint8_t> aad(1600);
    for (auto& b : aad) b = static_cast<uint8_t>(rng());
    uint8_t nonce[12];
    for (auto& b : nonce) b = static_cast<uint8_t>(rng());
    uint8_t empty[16] = {};
    std::vector<size_t> lens;
    for (size_t n = 0; n <= 200; ++n) lens.push_back(n);
    for (size_t n : {1400, 1401, 1415, 1416, 1599, 1600}) lens.push_back(n);
    for (size_t n : lens) {
        uint8_t want[16], got[16];
        IMB_AES256_GCM_ENC(mgr.get(), (*key)->gcm_key(), &ctx, empty, empty, 0, nonce, aad.data(), n, want, 16);
        aes256_gmac((*key)->ghash_key(), (*key)->gcm_key()->expanded_keys, nonce, aad.data(), n, got);
        EXPECT_EQ(0, std::memcmp(want, got, 16)) << n << " bytes of associated data";
    }
}

// The batch (the dataplane's link tags of one burst): every job of one call gets IPsec-MB's tag,
// on both GHASH paths, for every tail length and a job count that is not a multiple of the
// eight AES lanes; each job its own nonce.
TEST(Ghash, GmacBurstSameAsIpsecMbOnBothPaths) {
    if (!ghash_supported()) GTEST_SKIP() << "no PCLMULQDQ/AES-NI";
    auto key = CipherKey::create("aes256:gmac-burst-test");
    ASSERT_TRUE(key.ok()) << key.error();
    imb::MgrPtr mgr = std::move(imb::make_mgr()).value();
    gcm_context_data ctx{};
    std::mt19937_64 rng(17);
    std::vector<size_t> lens;
    for (size_t n = 0; n <= 270; ++n) lens.push_back(n);
    for (size_t n : {1400, 1401, 1415, 1416, 1599, 1600}) lens.push_back(n);
    ASSERT_NE(lens.size() % 8, 0u);
    std::vector<std::vector<uint8_t>> aad(lens.size());
    std::vector<std::array<uint8_t, 12>> nonce(lens.size());
    std::vector<Block> want(lens.size()), got(lens.size());
    std::vector<GmacJob> jobs(lens.size());
    uint8_t empty[16] = {};
    for (size_t i = 0; i < lens.size(); ++i) {
        aad[i].resize(lens[i]);
        for (auto& b : aad[i]) b = static_cast<uint8_t>(rng());
        for (auto& b : nonce[i]) b = static_cast<uint8_t>(rng());
        IMB_AES256_GCM_ENC(mgr.get(), (*key)->gcm_key(), &ctx, empty, empty, 0, nonce[i].data(), aad[i].data(),
                           lens[i], want[i].data(), 16);
        jobs[i] = GmacJob{nonce[i].data(), aad[i].data(), lens[i], got[i].data()};
    }
    const uint8_t* rk = (*key)->gcm_key()->expanded_keys;
    auto check = [&](const char* path) {
        for (size_t i = 0; i < lens.size(); ++i) EXPECT_EQ(got[i], want[i]) << path << ", " << lens[i] << " bytes";
    };
    aes256_gmac_burst_pclmul((*key)->ghash_key(), rk, jobs.data(), jobs.size());
    check("pclmul");
    if (ghash_vpclmul_supported()) {
        std::fill(got.begin(), got.end(), Block{});
        aes256_gmac_burst_vpclmul((*key)->ghash_key(), rk, jobs.data(), jobs.size());
        check("vpclmul");
    }
    std::fill(got.begin(), got.end(), Block{});
    aes256_gmac_burst((*key)->ghash_key(), rk, jobs.data(), 0);
    for (const Block& b : got) EXPECT_EQ(b, Block{}) << "no job, no write";
}

// The dataplane prefetches CipherKey::hot_bytes() of a cold key and nothing else: every byte the
// open and verify paths read must lie inside.
TEST(Ghash, HotBytesCoverWhatThePacketPathReads) {
    auto aes = CipherKey::create("aes256:hot");
    auto chacha = CipherKey::create("chacha20:hot");
    ASSERT_TRUE(aes.ok() && chacha.ok());
    const auto* a = reinterpret_cast<const uint8_t*>(aes->get());
    const auto* ghash_end = reinterpret_cast<const uint8_t*>(&(*aes)->ghash_key()) + sizeof(GhashKey);
    const auto* gcm_end = reinterpret_cast<const uint8_t*>((*aes)->gcm_key()) + sizeof(gcm_key_data);
    EXPECT_LE(ghash_end, a + (*aes)->hot_bytes());
    EXPECT_LE(gcm_end, a + (*aes)->hot_bytes());
    EXPECT_LE((*aes)->hot_bytes(), sizeof(CipherKey));
    const auto* c = reinterpret_cast<const uint8_t*>(chacha->get());
    EXPECT_EQ((*chacha)->hot_bytes(), 64u);
    EXPECT_LE((*chacha)->chacha_key() + 32, c + 64) << "the ChaCha20 key is in the first line";
}

}  // namespace
}  // namespace rustun
