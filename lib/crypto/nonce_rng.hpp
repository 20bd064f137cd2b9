// NonceRng: a per-thread generator of 96-bit AEAD nonces (docs/protocol.md, "ChaCha20-Poly1305", "AES-256-GCM").
//
// Construction: nonce = P_K(lane || counter), where
//   * K       is a 128-bit AES key drawn once per process from getrandom(2);
//   * lane    is a 32-bit number, different for every NonceRng of the process (a process-wide
//             counter hands them out);
//   * counter is this generator's 64-bit count of nonces produced;
//   * P_K     is a keyed permutation of 96-bit strings: a balanced Feistel network with 48-bit
//             halves and kRounds = 6 rounds, whose round function is
//             F_r(x) = first 48 bits of AES-128_K(r || 'N' || x || 0^64)   (x: 48 bits, BE).
//             This is the classic Luby–Rackoff / format-preserving-encryption construction
//             (cf. NIST SP 800-38G FF1/FF3-1, which are Feistel networks over AES). Rounds are
//             computed for kBatch nonces at a time: one IPsec-MB AES-ECB job per round.
//
// Why a nonce never repeats within a process: P_K is a bijection for every K (each Feistel round
// (a, b) -> (b, a XOR F_r(b)) is invertible whatever F_r is), and the inputs (lane, counter) are
// pairwise distinct: lanes are unique per generator under one K, counters strictly increase
// within a generator and never wrap (a generator takes a new lane before its counter could wrap;
// 2^64 nonces is ~5800 years at 100 Mpps). This needs no randomness — a counter in disguise.
// Why nonces still look random: with AES as a PRF, a Feistel network of >= 6 rounds is a
// pseudorandom permutation well beyond the 2^24-query birthday bound of its 48-bit halves
// (Patarin, CRYPTO 2004), so nonces reveal neither the thread nor the packet count, and two
// processes (or a restarted one) with independent K collide only as random nonces do
// (~ n1*n2 / 2^96) — the floor anyway for a key shared with the reference's random-nonce senders.
// fork(): a child gets a fresh K (pthread_atfork bumps an epoch that every next() compares), so
// parent and child never continue the same sequence. fork() while another thread holds the
// domain lock (creating a generator) is not supported.
//
// Cost: ~23 TSC cycles per nonce amortised on the development VM (six 2 KB ECB jobs per 128
// nonces); next() itself is a 12-byte copy.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>

#include "util/result.hpp"

struct IMB_MGR;

namespace rustun {

namespace nonce_detail {
// Incremented in the child after fork(); a NonceRng re-keys when it sees a new value.
inline std::atomic<uint64_t> fork_epoch{0};
}  // namespace nonce_detail

class NonceRng {
public:
    static constexpr uint32_t kNonceLen = 12;
    static constexpr uint32_t kBatch = 128;  // nonces per refill
    static constexpr uint32_t kRounds = 6;   // Feistel rounds

    // `mgr` must outlive the generator; refills submit one AES-ECB job per round to it, so the
    // caller must not hold jobs obtained from `mgr` but not yet submitted while calling next().
    static Result<std::unique_ptr<NonceRng>> create(IMB_MGR* mgr);

    NonceRng(const NonceRng&) = delete;
    NonceRng& operator=(const NonceRng&) = delete;
    ~NonceRng();

    // Writes the next 12-byte nonce to out[0..12).
    void next(uint8_t* out) {
        if (pos_ == kBatch ||
            epoch_ != nonce_detail::fork_epoch.load(std::memory_order_relaxed)) {
            refill();
        }
        std::memcpy(out, batch_ + pos_ * kNonceLen, kNonceLen);
        ++pos_;
    }

    // Bulk use without copies: ensures at least n (1..kBatch) unused nonces are buffered and
    // returns the first; nonce k is at [12k, 12k+12) and 4 bytes past the last one are readable.
    // They stay unchanged until the next next()/prepare() that refills; consume(k) marks the
    // first k as used (unused ones are handed out later). IPsec-MB may read an IV from here:
    // these bytes were stored long before, so reading them does not stall store forwarding.
    const uint8_t* prepare(uint32_t n) {
        if (kBatch - pos_ < n ||
            epoch_ != nonce_detail::fork_epoch.load(std::memory_order_relaxed)) {
            refill();
        }
        return batch_ + pos_ * kNonceLen;
    }
    void consume(uint32_t k) { pos_ += k; }

    uint32_t lane() const { return lane_; }

private:
    struct Token {};

public:
    NonceRng(Token, IMB_MGR* mgr) : mgr_(mgr) {}

private:
    void refill();   // computes the next kBatch nonces; aborts only if re-keying after fork fails
    bool rekey();    // fetches the process key and a fresh lane; false if getrandom failed

    IMB_MGR* mgr_;
    uint32_t lane_ = 0;
    uint32_t pos_ = kBatch;       // next unread nonce in batch_; kBatch = empty
    uint64_t counter_ = 0;        // input counter of batch_[kBatch] (the next one to compute)
    uint64_t epoch_ = 0;          // fork epoch of the key below
    alignas(16) uint8_t enc_keys_[16 * 11] = {};  // AES-128 encryption round keys of K
    // ECB scratch: one round-function block per nonce (input, output).
    alignas(64) uint8_t blocks_in_[kBatch][16] = {};
    alignas(64) uint8_t blocks_out_[kBatch][16] = {};
    uint8_t batch_[kBatch * kNonceLen + 4] = {};  // kBatch nonces + 4 bytes of slack
};

}  // namespace rustun
