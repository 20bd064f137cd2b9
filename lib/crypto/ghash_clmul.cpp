#include "crypto/ghash_clmul.hpp"

#include <immintrin.h>

#include <cstring>

namespace rustun {

// The feature sets of the two paths. Helpers carry the smaller set so both paths can inline them.
#define RUSTUN_GHASH_128 "pclmul,ssse3,sse4.1"
#define RUSTUN_GHASH_256 "pclmul,ssse3,sse4.1,avx,avx2,vpclmulqdq"

namespace {

[[gnu::target(RUSTUN_GHASH_128), gnu::always_inline]] inline __m128i reverse_mask() {
    return _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

// Wire block <-> internal representation (a byte reversal; its own inverse).
[[gnu::target(RUSTUN_GHASH_128), gnu::always_inline]] inline __m128i load_block(const uint8_t* p) {
    return _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), reverse_mask());
}

[[gnu::target(RUSTUN_GHASH_128), gnu::always_inline]] inline void store_block(uint8_t* p, __m128i v) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm_shuffle_epi8(v, reverse_mask()));
}

// Unreduced product sum: lo = a0*b0, hi = a1*b1, mid = a0*b1 + a1*b0 (64-bit halves a1:a0).
struct Acc128 {
    __m128i lo, hi, mid;
};

[[gnu::target(RUSTUN_GHASH_128), gnu::always_inline]] inline void mul_add(Acc128& acc, __m128i x, __m128i h) {
    acc.lo = _mm_xor_si128(acc.lo, _mm_clmulepi64_si128(x, h, 0x00));
    acc.hi = _mm_xor_si128(acc.hi, _mm_clmulepi64_si128(x, h, 0x11));
    acc.mid = _mm_xor_si128(acc.mid, _mm_xor_si128(_mm_clmulepi64_si128(x, h, 0x01),
                                                   _mm_clmulepi64_si128(x, h, 0x10)));
}

// 128-bit logical right shift of m by s bits (0 < s < 64).
[[gnu::target(RUSTUN_GHASH_128), gnu::always_inline]] inline __m128i shr128(__m128i m, __m128i m_high, int s) {
    return _mm_or_si128(_mm_srli_epi64(m, s), _mm_slli_epi64(m_high, 64 - s));
}

// The field element of an unreduced product sum: the 256-bit value hi:lo (+ mid at bit 64),
// shifted left by one (the reflected product is one bit short) and reduced modulo
// x^128 + x^7 + x^2 + x + 1 in the reflected form (two folding steps with shifts by
// 63/62/57 and 1/2/7: the polynomial's low terms x^7 + x^2 + x + 1).
[[gnu::target(RUSTUN_GHASH_128), gnu::always_inline]] inline __m128i reduce(const Acc128& acc) {
    __m128i lo = _mm_xor_si128(acc.lo, _mm_slli_si128(acc.mid, 8));
    __m128i hi = _mm_xor_si128(acc.hi, _mm_srli_si128(acc.mid, 8));
    // hi:lo <<= 1 across all four 64-bit words.
    const __m128i carry_lo = _mm_srli_epi64(lo, 63);
    const __m128i carry_hi = _mm_srli_epi64(hi, 63);
    lo = _mm_or_si128(_mm_slli_epi64(lo, 1), _mm_slli_si128(carry_lo, 8));
    hi = _mm_or_si128(_mm_or_si128(_mm_slli_epi64(hi, 1), _mm_slli_si128(carry_hi, 8)), _mm_srli_si128(carry_lo, 8));
    // First fold: the lowest word X0 into the next one (D = X1 ^ X0<<63 ^ X0<<62 ^ X0<<57).
    const __m128i t = _mm_xor_si128(_mm_xor_si128(_mm_slli_epi64(lo, 63), _mm_slli_epi64(lo, 62)), _mm_slli_epi64(lo, 57));
    const __m128i m = _mm_xor_si128(lo, _mm_slli_si128(t, 8));  // D:X0
    // Second fold: D:X0 ^ (D:X0)>>1 ^ >>2 ^ >>7, into the upper half.
    const __m128i m_high = _mm_srli_si128(m, 8);
    __m128i r = _mm_xor_si128(m, shr128(m, m_high, 1));
    r = _mm_xor_si128(r, shr128(m, m_high, 2));
    r = _mm_xor_si128(r, shr128(m, m_high, 7));
    return _mm_xor_si128(hi, r);
}

[[gnu::target(RUSTUN_GHASH_128)]] __m128i gf_mul(__m128i a, __m128i b) {
    Acc128 acc{_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128()};
    mul_add(acc, a, b);
    return reduce(acc);
}

inline const __m128i* powers(const GhashKey& key) { return reinterpret_cast<const __m128i*>(key.pow); }

// AES-256 encryption of one block with the 15 round keys rk.
[[gnu::target("aes,sse4.1")]] __m128i aes256_encrypt1(const uint8_t* rk, __m128i b) {
    b = _mm_xor_si128(b, _mm_loadu_si128(reinterpret_cast<const __m128i*>(rk)));
    for (int r = 1; r < 14; ++r) b = _mm_aesenc_si128(b, _mm_loadu_si128(reinterpret_cast<const __m128i*>(rk + 16 * r)));
    return _mm_aesenclast_si128(b, _mm_loadu_si128(reinterpret_cast<const __m128i*>(rk + 16 * 14)));
}

using UpdateFn = void (*)(const GhashKey&, uint8_t*, const uint8_t*, size_t);

}  // namespace

bool ghash_supported() {
    static const bool ok = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("ssse3") &&
               __builtin_cpu_supports("sse4.1") && __builtin_cpu_supports("aes");
    }();
    return ok;
}

bool ghash_vpclmul_supported() {
    static const bool ok = [] {
        __builtin_cpu_init();
        return ghash_supported() && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("vpclmulqdq");
    }();
    return ok;
}

[[gnu::target(RUSTUN_GHASH_128)]] void ghash_key_from_h(GhashKey& out, const uint8_t h[16]) {
    const __m128i h1 = load_block(h);
    __m128i p = h1;
    auto* pow = reinterpret_cast<__m128i*>(out.pow);
    _mm_store_si128(pow + (kGhashChunk - 1), p);
    for (int i = static_cast<int>(kGhashChunk) - 2; i >= 0; --i) {
        p = gf_mul(p, h1);
        _mm_store_si128(pow + i, p);
    }
}

[[gnu::target(RUSTUN_GHASH_128)]] void ghash_key_init(GhashKey& out, const uint8_t* rk) {
    alignas(16) uint8_t h[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(h), aes256_encrypt1(rk, _mm_setzero_si128()));
    ghash_key_from_h(out, h);
    _mm_store_si128(reinterpret_cast<__m128i*>(h), _mm_setzero_si128());
}

[[gnu::target(RUSTUN_GHASH_128)]] void ghash_update_pclmul(const GhashKey& key, uint8_t y[16], const uint8_t* data,
                                                            size_t nblocks) {
    const __m128i* tbl = powers(key);
    __m128i acc = load_block(y);
    while (nblocks > 0) {
        const size_t n = nblocks < kGhashChunk ? nblocks : kGhashChunk;
        const __m128i* h = tbl + (kGhashChunk - n);  // h[i] = H^(n-i)
        Acc128 s{_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128()};
        mul_add(s, _mm_xor_si128(load_block(data), acc), _mm_load_si128(h));
        for (size_t i = 1; i < n; ++i) mul_add(s, load_block(data + 16 * i), _mm_load_si128(h + i));
        acc = reduce(s);
        data += 16 * n;
        nblocks -= n;
    }
    store_block(y, acc);
}

namespace {

// Two blocks per register (lane 0 = the lower address), each lane multiplied by its own power.
struct Acc256 {
    __m256i lo, hi, mid;
};

// Karatsuba: mid = (x1^x0)*(h1^h0) + lo + hi; the "+ lo + hi" is applied once per chunk
// (finish), so here mid accumulates only (x1^x0)*(h1^h0). hk holds h1^h0 in its low words.
[[gnu::target(RUSTUN_GHASH_256), gnu::always_inline]] inline void mul_add2(Acc256& acc, __m256i x, __m256i h, __m256i hk) {
    const __m256i xk = _mm256_xor_si256(x, _mm256_shuffle_epi32(x, 0x4e));
    acc.lo = _mm256_xor_si256(acc.lo, _mm256_clmulepi64_epi128(x, h, 0x00));
    acc.hi = _mm256_xor_si256(acc.hi, _mm256_clmulepi64_epi128(x, h, 0x11));
    acc.mid = _mm256_xor_si256(acc.mid, _mm256_clmulepi64_epi128(xk, hk, 0x00));
}

[[gnu::target(RUSTUN_GHASH_256), gnu::always_inline]] inline __m256i karatsuba_key(__m256i h) {
    return _mm256_xor_si256(h, _mm256_shuffle_epi32(h, 0x4e));
}

[[gnu::target(RUSTUN_GHASH_256), gnu::always_inline]] inline __m128i fold_lanes(__m256i v) {
    return _mm_xor_si128(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
}

// The two lanes summed, with Karatsuba's middle term completed (mid += lo + hi).
[[gnu::target(RUSTUN_GHASH_256), gnu::always_inline]] inline Acc128 finish(const Acc256& s) {
    const __m128i lo = fold_lanes(s.lo), hi = fold_lanes(s.hi);
    return Acc128{lo, hi, _mm_xor_si128(fold_lanes(s.mid), _mm_xor_si128(lo, hi))};
}

[[gnu::target(RUSTUN_GHASH_256), gnu::always_inline]] inline __m256i load_pair(const uint8_t* p, __m256i rev) {
    return _mm256_shuffle_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), rev);
}

[[gnu::target(RUSTUN_GHASH_256), gnu::always_inline]] inline __m256i load_powers(const __m128i* h) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(h));
}

}  // namespace

[[gnu::target(RUSTUN_GHASH_256)]] void ghash_update_vpclmul(const GhashKey& key, uint8_t y[16], const uint8_t* data,
                                                             size_t nblocks) {
    const __m128i* tbl = powers(key);
    const __m256i rev = _mm256_broadcastsi128_si256(reverse_mask());
    __m128i acc = load_block(y);
    while (nblocks >= kGhashChunk) {
        // Pairs 1..7 first: only pair 0 waits for the previous chunk's reduction.
        Acc256 s{_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
        for (size_t p = 2; p < kGhashChunk; p += 2) {
            const __m256i hp = load_powers(tbl + p);
            mul_add2(s, load_pair(data + 16 * p, rev), hp, karatsuba_key(hp));
        }
        const __m256i h0 = load_powers(tbl);
        mul_add2(s, _mm256_xor_si256(load_pair(data, rev), _mm256_zextsi128_si256(acc)), h0, karatsuba_key(h0));
        acc = reduce(finish(s));
        data += 16 * kGhashChunk;
        nblocks -= kGhashChunk;
    }
    if (nblocks > 0) {
        const size_t n = nblocks;
        const __m128i* h = tbl + (kGhashChunk - n);  // h[i] = H^(n-i)
        Acc256 s{_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
        __m256i first = _mm256_zextsi128_si256(acc);  // added to the remainder's first block
        size_t i = 0;
        for (; i + 2 <= n; i += 2) {
            const __m256i hp = load_powers(h + i);
            mul_add2(s, _mm256_xor_si256(load_pair(data + 16 * i, rev), first), hp, karatsuba_key(hp));
            first = _mm256_setzero_si256();
        }
        Acc128 t = finish(s);
        if (i < n) mul_add(t, _mm_xor_si128(load_block(data + 16 * i), _mm256_castsi256_si128(first)), _mm_load_si128(h + i));
        acc = reduce(t);
    }
    store_block(y, acc);
}

void ghash_update(const GhashKey& key, uint8_t y[16], const uint8_t* data, size_t nblocks) {
    static const UpdateFn fn = ghash_vpclmul_supported() ? ghash_update_vpclmul : ghash_update_pclmul;
    fn(key, y, data, nblocks);
}

void aes256_gmac(const GhashKey& key, const uint8_t* rk, const uint8_t nonce[12], const uint8_t* aad, size_t aad_len,
                 uint8_t tag[16]) {
    const GmacJob job{nonce, aad, aad_len, tag};
    aes256_gmac_burst(key, rk, &job, 1);
}

namespace {

// GMAC batches (aes256_gmac_burst): the AES of eight jobs' J0 blocks interleaved per round.
constexpr size_t kGmacLanes = 8;

// A message's GHASH input as GCM pads it: its full blocks where they lie, then `tail` (its last
// partial block zero-padded, if any, and the length block [8*aad_len]64 || [0]64).
struct GmacBlocks {
    const uint8_t* aad;
    size_t nfull;  // full 16-byte blocks of aad
    size_t total;  // nfull + 1 or 2 tail blocks
    alignas(16) uint8_t tail[32];
    const uint8_t* block(size_t i) const { return i < nfull ? aad + 16 * i : tail + 16 * (i - nfull); }
};

// pshufb controls: 16 - p bytes from `kTailShift + p` move a vector's last p bytes to its start
// and zero the rest (0x80 selects zero).
alignas(16) constexpr uint8_t kTailShift[32] = {0,    1,    2,    3,    4,    5,    6,    7,    8,    9,    10,
                                                11,   12,   13,   14,   15,   0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                                0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80};

[[gnu::target(RUSTUN_GHASH_128), gnu::always_inline]] inline void gmac_blocks_init(GmacBlocks& b, const uint8_t* aad,
                                                                                size_t aad_len) {
    b.aad = aad;
    b.nfull = aad_len / 16;
    const size_t part = aad_len % 16;
    auto* tail = reinterpret_cast<__m128i*>(b.tail);
    if (part != 0 && aad_len >= 16) {
        // The last partial block without a byte loop: the 16 bytes that end the message, shifted.
        const __m128i last = _mm_loadu_si128(reinterpret_cast<const __m128i*>(aad + aad_len - 16));
        _mm_store_si128(tail, _mm_shuffle_epi8(last, _mm_loadu_si128(reinterpret_cast<const __m128i*>(kTailShift + 16 - part))));
    } else if (part != 0) {
        _mm_store_si128(tail, _mm_setzero_si128());
        std::memcpy(b.tail, aad, part);
    }
    // [8 * aad_len]64 big-endian, then 64 zero bits (the plaintext's length).
    _mm_store_si128(tail + (part != 0 ? 1 : 0),
                    _mm_set_epi64x(0, static_cast<long long>(__builtin_bswap64(static_cast<uint64_t>(aad_len) * 8))));
    b.total = b.nfull + (part != 0 ? 2 : 1);
}

// E_K(nonce || 00000001) for `n` (<= kGmacLanes) jobs, interleaved round by round.
[[gnu::target(RUSTUN_GHASH_128 ",aes"), gnu::always_inline]] inline void aes256_j0_lanes(const uint8_t* rk,
                                                                                        const GmacJob* jobs, size_t n,
                                                                                        __m128i* out) {
    const auto round_key = [rk](int r) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(rk + 16 * r)); };
    const __m128i k0 = round_key(0);
    for (size_t l = 0; l < n; ++l) {
        uint32_t w[3];
        std::memcpy(w, jobs[l].nonce, 12);
        out[l] = _mm_xor_si128(_mm_set_epi32(0x01000000, static_cast<int>(w[2]), static_cast<int>(w[1]),
                                             static_cast<int>(w[0])),
                               k0);
    }
    for (int r = 1; r < 14; ++r) {
        const __m128i k = round_key(r);
        for (size_t l = 0; l < n; ++l) out[l] = _mm_aesenc_si128(out[l], k);
    }
    const __m128i k = round_key(14);
    for (size_t l = 0; l < n; ++l) out[l] = _mm_aesenclast_si128(out[l], k);
}

// GHASH of one message (internal representation), one reduction per 16 blocks.
[[gnu::target(RUSTUN_GHASH_128)]] __m128i gmac_hash_pclmul(const GhashKey& key, const GmacBlocks& b) {
    const __m128i* tbl = powers(key);
    __m128i acc = _mm_setzero_si128();
    for (size_t done = 0; done < b.total;) {
        const size_t n = b.total - done < kGhashChunk ? b.total - done : kGhashChunk;
        const __m128i* h = tbl + (kGhashChunk - n);  // h[i] = H^(n-i)
        Acc128 s{_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128()};
        mul_add(s, _mm_xor_si128(load_block(b.block(done)), acc), _mm_load_si128(h));
        for (size_t i = 1; i < n; ++i) mul_add(s, load_block(b.block(done + i)), _mm_load_si128(h + i));
        acc = reduce(s);
        done += n;
    }
    return acc;
}

[[gnu::target(RUSTUN_GHASH_256)]] __m128i gmac_hash_vpclmul(const GhashKey& key, const GmacBlocks& b) {
    const __m128i* tbl = powers(key);
    const __m256i rev = _mm256_broadcastsi128_si256(reverse_mask());
    __m128i acc = _mm_setzero_si128();
    for (size_t done = 0; done < b.total;) {
        const size_t n = b.total - done < kGhashChunk ? b.total - done : kGhashChunk;
        const __m128i* h = tbl + (kGhashChunk - n);  // h[i] = H^(n-i)
        Acc256 s{_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
        __m256i first = _mm256_zextsi128_si256(acc);  // added to the chunk's first block
        size_t i = 0;
        for (; i + 2 <= n; i += 2) {
            const __m256i pair = _mm256_shuffle_epi8(
                _mm256_set_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.block(done + i + 1))),
                                 _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.block(done + i)))),
                rev);
            const __m256i hp = load_powers(h + i);
            mul_add2(s, _mm256_xor_si256(pair, first), hp, karatsuba_key(hp));
            first = _mm256_setzero_si256();
        }
        Acc128 t = finish(s);
        if (i < n)
            mul_add(t, _mm_xor_si128(load_block(b.block(done + i)), _mm256_castsi256_si128(first)), _mm_load_si128(h + i));
        acc = reduce(t);
        done += n;
    }
    return acc;
}

template <__m128i (*Hash)(const GhashKey&, const GmacBlocks&)>
[[gnu::target(RUSTUN_GHASH_128 ",aes")]] void gmac_burst(const GhashKey& key, const uint8_t* rk, const GmacJob* jobs,
                                                        size_t n) {
    for (size_t at = 0; at < n; at += kGmacLanes) {
        const size_t lanes = n - at < kGmacLanes ? n - at : kGmacLanes;
        __m128i ek[kGmacLanes];
        aes256_j0_lanes(rk, jobs + at, lanes, ek);
        for (size_t l = 0; l < lanes; ++l) {
            const GmacJob& j = jobs[at + l];
            GmacBlocks b;
            gmac_blocks_init(b, j.aad, j.aad_len);
            const __m128i y = _mm_shuffle_epi8(Hash(key, b), reverse_mask());  // wire format
            _mm_storeu_si128(reinterpret_cast<__m128i*>(j.tag), _mm_xor_si128(y, ek[l]));
        }
    }
}

}  // namespace

void aes256_gmac_burst_pclmul(const GhashKey& key, const uint8_t* rk, const GmacJob* jobs, size_t n) {
    gmac_burst<gmac_hash_pclmul>(key, rk, jobs, n);
}

void aes256_gmac_burst_vpclmul(const GhashKey& key, const uint8_t* rk, const GmacJob* jobs, size_t n) {
    gmac_burst<gmac_hash_vpclmul>(key, rk, jobs, n);
}

void aes256_gmac_burst(const GhashKey& key, const uint8_t* rk, const GmacJob* jobs, size_t n) {
    static const bool wide = ghash_vpclmul_supported();
    if (wide) aes256_gmac_burst_vpclmul(key, rk, jobs, n);
    else aes256_gmac_burst_pclmul(key, rk, jobs, n);
}

#undef RUSTUN_GHASH_128
#undef RUSTUN_GHASH_256

}  // namespace rustun
