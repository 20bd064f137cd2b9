// NonceRng: a per-thread generator of 96-bit AEAD nonces (WIRE.md §3.3, §3.4).
//
// Construction: nonce = P_K(lane || counter), where
//   * K       is a 256-bit AES key drawn once per process from getrandom(2);
//   * lane    is a 32-bit number, different for every NonceRng of the process (a process-wide
//             counter hands them out);
//   * counter is this generator's 64-bit count of nonces produced;
//   * P_K     is a keyed permutation of 96-bit strings: a balanced Feistel network (48-bit halves,
//             kRounds = 8 rounds, the round count of NIST FF3-1) whose round function is
//             F_r(x) = first 48 bits of AES-256_K(r || 'N' || x || 0^64).
//             Rounds are computed for kBatch nonces at a time, one IPsec-MB AES-ECB job per round.
//
// Why a nonce never repeats within a process: P_K is a bijection for every K (each Feistel round
// is invertible whatever F is), and the inputs (lane, counter) are pairwise distinct: lanes are
// unique per generator, counters strictly increase within a generator and never wrap (a generator
// takes a new lane before its counter could wrap; 2^64 nonces is ~5800 years at 100 Mpps). This
// needs no randomness at all — it is a counter in disguise.
// Why nonces still look random: under the usual assumption on AES the Feistel network is a
// pseudorandom permutation (Luby–Rackoff; more rounds push the distinguishing bound towards 2^48
// nonces), so nonces reveal neither the thread nor the packet count, and two processes (or a
// restarted one) with independent K collide only like random nonces do (≈ n1·n2 / 2^96) — the
// reference's own senders use random nonces (OsRng), so that is the floor for a shared key.
// fork(): a child gets a fresh K (pthread_atfork bumps an epoch; every next() compares it), so
// parent and child never continue the same sequence.
//
// Cost: ≈ 20–30 TSC cycles per nonce amortised (see docs/performance.md); next() is a 12-byte copy
// except once per kBatch nonces.
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
    static constexpr uint32_t kRounds = 8;   // Feistel rounds

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
        std::memcpy(out, batch_[pos_], kNonceLen);
        ++pos_;
    }

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
    alignas(16) uint8_t enc_keys_[16 * 15] = {};  // AES-256 encryption round keys of K
    alignas(64) uint8_t blocks_[kBatch][16] = {};  // ECB scratch: one round-function block per nonce
    uint8_t batch_[kBatch][kNonceLen] = {};
};

}  // namespace rustun
