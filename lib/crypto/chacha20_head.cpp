#include "crypto/chacha20_head.hpp"

#include <bit>
#include <cstring>

namespace rustun {

static_assert(std::endian::native == std::endian::little, "ChaCha20 words are loaded little-endian");

namespace {

// 16 lanes of 32 bits: lane 2p + b holds pair p's block b (b = 0, 1).
using Lanes = uint32_t __attribute__((vector_size(64)));
constexpr uint32_t kLanes = 16;
constexpr uint32_t kPairsPerPass = kLanes / 2;

// In place: a function returning a 64-byte vector changes the ABI where AVX-512 is not enabled
// (-Wpsabi, an error with -Werror on such CPUs, e.g. -march=native on Zen 3).
[[gnu::always_inline]] inline void rotl(Lanes& v, int n) { v = (v << n) | (v >> (32 - n)); }

// The quarter round of RFC 8439.
[[gnu::always_inline]] inline void quarter_round(Lanes& a, Lanes& b, Lanes& c, Lanes& d) {
    a += b; d ^= a; rotl(d, 16);
    c += d; b ^= c; rotl(b, 12);
    a += b; d ^= a; rotl(d, 8);
    c += d; b ^= c; rotl(b, 7);
}

inline uint32_t load_le32(const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// Up to kPairsPerPass pairs. Lanes of absent pairs repeat pair 0 and are not stored.
void head_pass(const uint8_t* const keys[], const uint8_t* const nonces[], uint8_t (*out)[kChachaHeadOut],
               uint32_t n) {
    alignas(64) uint32_t init[16][kLanes];
    for (uint32_t lane = 0; lane < kLanes; ++lane) {
        const uint32_t p = lane / 2 < n ? lane / 2 : 0;
        init[0][lane] = 0x61707865;  // "expand 32-byte k"
        init[1][lane] = 0x3320646e;
        init[2][lane] = 0x79622d32;
        init[3][lane] = 0x6b206574;
        for (uint32_t w = 0; w < 8; ++w) init[4 + w][lane] = load_le32(keys[p] + 4 * w);
        init[12][lane] = lane & 1;  // block counter
        for (uint32_t w = 0; w < 3; ++w) init[13 + w][lane] = load_le32(nonces[p] + 4 * w);
    }
    Lanes s[16], x[16];
    for (int w = 0; w < 16; ++w) {
        std::memcpy(&s[w], init[w], sizeof(Lanes));
        x[w] = s[w];
    }
    for (int r = 0; r < 10; ++r) {  // 20 rounds = 10 column + diagonal double rounds
        quarter_round(x[0], x[4], x[8], x[12]);
        quarter_round(x[1], x[5], x[9], x[13]);
        quarter_round(x[2], x[6], x[10], x[14]);
        quarter_round(x[3], x[7], x[11], x[15]);
        quarter_round(x[0], x[5], x[10], x[15]);
        quarter_round(x[1], x[6], x[11], x[12]);
        quarter_round(x[2], x[7], x[8], x[13]);
        quarter_round(x[3], x[4], x[9], x[14]);
    }
    // Only words 0..7 (bytes 0..31) of each block are needed.
    alignas(64) uint32_t res[8][kLanes];
    for (int w = 0; w < 8; ++w) {
        const Lanes v = x[w] + s[w];
        std::memcpy(res[w], &v, sizeof(Lanes));
    }
    for (uint32_t p = 0; p < n; ++p) {
        for (uint32_t w = 0; w < 8; ++w) {
            std::memcpy(out[p] + 4 * w, &res[w][2 * p], 4);
            std::memcpy(out[p] + 32 + 4 * w, &res[w][2 * p + 1], 4);
        }
    }
}

}  // namespace

void chacha20_head_blocks(const uint8_t* const keys[], const uint8_t* const nonces[],
                          uint8_t (*out)[kChachaHeadOut], uint32_t n) {
    for (uint32_t i = 0; i < n; i += kPairsPerPass) {
        const uint32_t k = n - i < kPairsPerPass ? n - i : kPairsPerPass;
        head_pass(keys + i, nonces + i, out + i, k);
    }
}

}  // namespace rustun
