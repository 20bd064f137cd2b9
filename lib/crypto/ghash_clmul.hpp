// GHASH (NIST SP 800-38D, section 6.4) with carry-less multiplication, aggregated over 16 blocks:
// the authentication half of AES-256-GCM, used by the verify path (aead_verify.hpp), which
// authenticates a frame over its ciphertext without decrypting it.
//
// Why our own and not IPsec-MB's IMB_GHASH: IMB_GHASH ran at ≈0.5 TSC cycles/byte on the
// machines we measured (Zen 3, AVX2 arch), which left verify only 1.1–1.4× faster than
// IPsec-MB's stitched decrypt-and-verify. This one folds 16 blocks per reduction with 256-bit
// VPCLMULQDQ where the CPU has it (two blocks per instruction) and 128-bit PCLMULQDQ otherwise.
//
// Representation (internal): a field element is held byte-reversed in a 128-bit register, so
// register bit 127 is the coefficient of x^0 (the first bit of the block on the wire). Products of
// two such values are exact 255-bit carry-less products that need one left shift before reduction
// modulo x^128 + x^7 + x^2 + x + 1; both are linear, so the 16 products of a chunk are summed
// unreduced and shifted and reduced once (Horner's rule over H^16..H^1).
//
// The API speaks wire format: the 16-byte state `y` is GHASH's Y as SP 800-38D writes it
// (initially 0^128), exactly IMB_GHASH's io_tag.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rustun {

// Blocks folded per reduction.
inline constexpr size_t kGhashChunk = 16;

// Powers of the hash subkey H = E_K(0^128) in the internal representation, highest first:
// pow[i] = H^(kGhashChunk-i). 256 bytes, 32-byte aligned (one 256-bit load per pair).
// Immutable after ghash_key_init; shared read-only like the rest of CipherKey.
struct alignas(32) GhashKey {
    uint8_t pow[kGhashChunk][16];
};

// True when the CPU has PCLMULQDQ, SSSE3 and AES-NI (ghash_key_init encrypts the zero block
// with AES-NI): the precondition of every function below.
bool ghash_supported();

// Fills `out` from the AES-256 encryption round keys `rk` (15 x 16 bytes, the standard
// schedule: IPsec-MB's gcm_key_data::expanded_keys). Requires ghash_supported().
void ghash_key_init(GhashKey& out, const uint8_t* rk);
// Fills `out` from the hash subkey H itself (wire format), for tests with published H values.
void ghash_key_from_h(GhashKey& out, const uint8_t h[16]);

// y = GHASH_H(y-chained, data[0 .. 16*nblocks)): for each block X, y = (y XOR X) * H.
// Dispatches once (first call) to the 256-bit path when the CPU has AVX2 + VPCLMULQDQ.
void ghash_update(const GhashKey& key, uint8_t y[16], const uint8_t* data, size_t nblocks);

// AES-256 GMAC (SP 800-38D: GCM with an empty plaintext and `aad` as the associated data):
// tag = GHASH_H(aad || 0-pad || [8*aad_len]64 || [0]64) XOR E_K(nonce || 00000001).
// `rk`: the AES-256 round keys `key` was made from. Requires ghash_supported().
void aes256_gmac(const GhashKey& key, const uint8_t* rk, const uint8_t nonce[12], const uint8_t* aad, size_t aad_len,
                 uint8_t tag[16]);

// One AES-256 GMAC message of a batch: the 12-byte nonce, the associated data and where its 16-byte
// tag goes; no tag may overlap any job's aad.
struct GmacJob {
    const uint8_t* nonce;
    const uint8_t* aad;
    size_t aad_len;
    uint8_t* tag;
};

// aes256_gmac for each of `n` jobs under one key, the same tags: E_K(J0) of eight jobs at a time
// interleaved (AES-NI has a latency of several cycles per round and a throughput of one or two
// per cycle), and each message hashed with one reduction per 16 blocks, its last partial block
// and length block included. The fleet link's tags of one burst (lib/fleet/link_auth.hpp).
// Requires ghash_supported().
void aes256_gmac_burst(const GhashKey& key, const uint8_t* rk, const GmacJob* jobs, size_t n);

// The two paths, for tests and benchmarks (ghash_update and aes256_gmac_burst pick one). The
// _vpclmul ones require AVX2 + VPCLMULQDQ (ghash_vpclmul_supported()).
void ghash_update_pclmul(const GhashKey& key, uint8_t y[16], const uint8_t* data, size_t nblocks);
void ghash_update_vpclmul(const GhashKey& key, uint8_t y[16], const uint8_t* data, size_t nblocks);
void aes256_gmac_burst_pclmul(const GhashKey& key, const uint8_t* rk, const GmacJob* jobs, size_t n);
void aes256_gmac_burst_vpclmul(const GhashKey& key, const uint8_t* rk, const GmacJob* jobs, size_t n);
bool ghash_vpclmul_supported();

}  // namespace rustun
