// ChaCha20 keystream for authenticating a ChaCha20-Poly1305 payload without decrypting it
// (docs/dataplane.md, "Verify, don't decrypt"): for each (key, nonce) pair, the first 32 bytes of
// block 0 (counter 0: the Poly1305 one-time key of RFC 8439) and the first 32 bytes of block 1
// (counter 1: the keystream of plaintext bytes 0..31, which cover an inner IPv4 header).
//
// IPsec-MB 1.3 cannot produce block 0 through its job API (IMB_CIPHER_CHACHA20 starts at counter
// 1) and its direct-API init costs ~300 TSC cycles per nonce, more than the whole saving; this
// computes one 32-bit vector lane per (pair, block) with the compiler's vector extensions, one
// register per state word: 8 pairs per pass with AVX-512, 4 with AVX2, 2 with SSE (134 TSC
// cycles per pair with AVX2 on Zen 3). ARX only:
// constant time with respect to keys, nonces and outputs.
#pragma once

#include <cstdint>

namespace rustun {

inline constexpr uint32_t kChachaHeadOut = 64;  // bytes per pair: poly key (32) || block 1 head (32)

// out[i][0..32) = ChaCha20(keys[i], counter 0, nonces[i]) bytes 0..31, out[i][32..64) = the same
// with counter 1, bytes 0..31. keys[i]: 32 bytes; nonces[i]: 12 bytes. Any n.
void chacha20_head_blocks(const uint8_t* const keys[], const uint8_t* const nonces[],
                          uint8_t (*out)[kChachaHeadOut], uint32_t n);

}  // namespace rustun
