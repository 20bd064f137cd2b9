#include "crypto/nonce_rng.hpp"

#include <pthread.h>
#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "crypto/imb_mgr.hpp"
#include "crypto/secure_wipe.hpp"

namespace rustun {

namespace {

constexpr uint64_t kMask48 = (uint64_t{1} << 48) - 1;

// Process-wide key K and lane allocator. Touched only at creation, every kBatch nonces when a
// counter is about to wrap (never in practice) and after fork(); guarded by a mutex.
struct Domain {
    std::mutex mu;
    bool keyed = false;
    uint64_t epoch = 0;      // fork epoch K belongs to
    uint64_t next_lane = 0;  // lanes handed out so far under this K; < 2^32
    alignas(16) uint8_t enc_keys[16 * 11] = {};
};

Domain& domain() {
    static Domain* d = [] {
        pthread_atfork(nullptr, nullptr, [] {
            nonce_detail::fork_epoch.fetch_add(1, std::memory_order_relaxed);
        });
        return new Domain;  // never destroyed: generators may outlive static destruction order
    }();
    return *d;
}

bool fill_random(uint8_t* p, size_t n) {
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += r;
        n -= static_cast<size_t>(r);
    }
    return true;
}

// AES-128-ECB encryption of `len` bytes (multiple of 16) from `in` to `out` (job API).
void ecb_encrypt(IMB_MGR* mgr, const uint8_t* enc_keys, const uint8_t* in, uint8_t* out,
                 uint64_t len) {
    IMB_JOB* job = IMB_GET_NEXT_JOB(mgr);
    job->cipher_mode = IMB_CIPHER_ECB;
    job->cipher_direction = IMB_DIR_ENCRYPT;
    job->chain_order = IMB_ORDER_CIPHER_HASH;
    job->hash_alg = IMB_AUTH_NULL;
    job->enc_keys = enc_keys;
    job->dec_keys = enc_keys;  // unused for encryption
    job->key_len_in_bytes = IMB_KEY_128_BYTES;
    job->src = in;
    job->dst = out;
    job->cipher_start_src_offset_in_bytes = 0;
    job->msg_len_to_cipher_in_bytes = len;
    job->iv = nullptr;
    job->iv_len_in_bytes = 0;
    // ECB is synchronous in IPsec-MB 1.3; drain in case an architecture queues it.
    IMB_JOB* done = IMB_SUBMIT_JOB_NOCHECK(mgr);
    while (done == nullptr) done = IMB_FLUSH_JOB(mgr);
}

}  // namespace

Result<std::unique_ptr<NonceRng>> NonceRng::create(IMB_MGR* mgr) {
    if (mgr == nullptr) return make_error("NonceRng: no IPsec-MB manager");
    auto rng = std::make_unique<NonceRng>(Token{}, mgr);
    if (!rng->rekey()) return make_error("NonceRng: getrandom failed or nonce lanes exhausted");
    return rng;
}

NonceRng::~NonceRng() {
    secure_wipe(enc_keys_, sizeof(enc_keys_));
    secure_wipe(blocks_in_, sizeof(blocks_in_));
    secure_wipe(blocks_out_, sizeof(blocks_out_));
}

bool NonceRng::rekey() {
    Domain& d = domain();
    std::lock_guard<std::mutex> lock(d.mu);
    const uint64_t epoch = nonce_detail::fork_epoch.load(std::memory_order_relaxed);
    if (!d.keyed || d.epoch != epoch) {
        uint8_t k[16];
        if (!fill_random(k, sizeof(k))) return false;
        alignas(16) uint8_t dec_keys[16 * 11];
        IMB_AES_KEYEXP_128(mgr_, k, d.enc_keys, dec_keys);
        secure_wipe(k, sizeof(k));
        secure_wipe(dec_keys, sizeof(dec_keys));
        d.keyed = true;
        d.epoch = epoch;
        d.next_lane = 0;
    }
    // Lanes are never reused under one K; 2^32 generators per process is the limit.
    if (d.next_lane > UINT32_MAX) return false;
    lane_ = static_cast<uint32_t>(d.next_lane++);
    std::memcpy(enc_keys_, d.enc_keys, sizeof(enc_keys_));
    epoch_ = epoch;
    counter_ = 0;
    pos_ = kBatch;
    return true;
}

void NonceRng::refill() {
    // A new fork epoch, or a counter that would wrap in this batch: new key/lane, counter 0.
    if (epoch_ != nonce_detail::fork_epoch.load(std::memory_order_relaxed) ||
        counter_ > UINT64_MAX - kBatch) {
        if (!rekey()) {
            std::fputs("rustun: NonceRng: cannot re-key (getrandom failed or lanes exhausted)\n",
                       stderr);
            std::abort();  // emitting a possibly repeated nonce is never an option
        }
    }
    // Feistel state: left half a = lane || counter[63:48], right half b = counter[47:0].
    uint64_t a[kBatch], b[kBatch];
    for (uint32_t i = 0; i < kBatch; ++i) {
        const uint64_t c = counter_ + i;
        a[i] = (uint64_t{lane_} << 16) | (c >> 48);
        b[i] = c & kMask48;
    }
    for (uint32_t r = 0; r < kRounds; ++r) {
        // Round-function input block: r || 'N' || b (48 bits, big-endian) || 0^64. The zero
        // half of blocks_in_ is never written after construction.
        const uint64_t tweak = (uint64_t{r} << 56) | (uint64_t{'N'} << 48);
        for (uint32_t i = 0; i < kBatch; ++i) {
            const uint64_t w = __builtin_bswap64(tweak | b[i]);
            std::memcpy(blocks_in_[i], &w, 8);
        }
        ecb_encrypt(mgr_, enc_keys_, &blocks_in_[0][0], &blocks_out_[0][0], sizeof(blocks_in_));
        for (uint32_t i = 0; i < kBatch; ++i) {
            uint64_t f;
            std::memcpy(&f, blocks_out_[i], 8);
            const uint64_t next_b = a[i] ^ (__builtin_bswap64(f) >> 16);  // first 48 bits
            a[i] = b[i];
            b[i] = next_b;
        }
    }
    // nonce i = a (48 bits BE) || b (48 bits BE), written as two overlapping 8-byte stores in
    // increasing address order; the 2 bytes past the last nonce land in batch_'s slack.
    for (uint32_t i = 0; i < kBatch; ++i) {
        const uint64_t hi = __builtin_bswap64(a[i] << 16);
        const uint64_t lo = __builtin_bswap64(b[i] << 16);
        std::memcpy(batch_ + i * kNonceLen, &hi, 8);
        std::memcpy(batch_ + i * kNonceLen + 6, &lo, 8);
    }
    counter_ += kBatch;
    pos_ = 0;
}

}  // namespace rustun
