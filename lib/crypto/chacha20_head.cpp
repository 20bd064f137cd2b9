#include "crypto/chacha20_head.hpp"

#include <bit>
#include <cstddef>
#include <cstring>
#include <utility>

namespace rustun {

static_assert(std::endian::native == std::endian::little, "ChaCha20 words are loaded little-endian");

namespace {

// One 32-bit vector lane per (pair, block): lane 2p + b holds pair p's block b (b = 0, 1).
// The width is one register of the widest ISA the build targets: 16 lanes with AVX-512, else 8
// (AVX2) or 4 (SSE). Wider than a register made the compiler keep the 16 state words of 16
// lanes in 32 AVX2 registers it does not have: half the instructions were spills, and a pair
// cost ~378 TSC cycles on Zen 3 against 134 with one register per word (and 161 with shifts for
// every rotation).
#if defined(__AVX512F__)
constexpr uint32_t kLanes = 16;
#elif defined(__AVX2__)
constexpr uint32_t kLanes = 8;
#else
constexpr uint32_t kLanes = 4;
#endif
#if defined(__SSSE3__)
constexpr bool kByteShuffle = true;  // pshufb
#else
constexpr bool kByteShuffle = false;
#endif
using Lanes = uint32_t __attribute__((vector_size(4 * kLanes)));
using Bytes = uint8_t __attribute__((vector_size(4 * kLanes)));
constexpr uint32_t kPairsPerPass = kLanes / 2;

// Rotations by 16 and 8 move whole bytes: one byte shuffle (pshufb, SSSE3 and later) instead of
// two shifts and an or. Result byte b of each word is source byte (b - N/8) mod 4 of that word.
// In place: a function returning a vector wider than the enabled ISA changes the ABI (-Wpsabi,
// an error with -Werror).
template <int N, size_t... I>
[[gnu::always_inline]] inline void rotate_bytes(Lanes& v, std::index_sequence<I...>) {
    const Bytes b = reinterpret_cast<Bytes>(v);
    v = reinterpret_cast<Lanes>(
        __builtin_shufflevector(b, b, static_cast<int>((I & ~size_t{3}) + (((I & 3) + 4 - N / 8) & 3))...));
}

template <int N>
[[gnu::always_inline]] inline void rotl(Lanes& v) {
    if constexpr (kByteShuffle && (N == 16 || N == 8)) rotate_bytes<N>(v, std::make_index_sequence<sizeof(Lanes)>{});
    else v = (v << N) | (v >> (32 - N));
}

// The quarter round of RFC 8439.
[[gnu::always_inline]] inline void quarter_round(Lanes& a, Lanes& b, Lanes& c, Lanes& d) {
    a += b; d ^= a; rotl<16>(d);
    c += d; b ^= c; rotl<12>(b);
    a += b; d ^= a; rotl<8>(d);
    c += d; b ^= c; rotl<7>(b);
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
    Lanes x[16];
    for (int w = 0; w < 16; ++w) std::memcpy(&x[w], init[w], sizeof(Lanes));
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
    // Only words 0..7 (bytes 0..31) of each block are needed; the initial words are reloaded
    // from memory rather than kept live through the rounds.
    alignas(64) uint32_t res[8][kLanes];
    for (int w = 0; w < 8; ++w) {
        Lanes s;
        std::memcpy(&s, init[w], sizeof(Lanes));
        const Lanes v = x[w] + s;
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
