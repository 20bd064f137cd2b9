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
    alignas(16) uint8_t enc_keys[16 * 15] = {};
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

inline void store48(uint8_t* p, uint64_t v) {
    for (int i = 5; i >= 0; --i) {
        p[i] = static_cast<uint8_t>(v);
        v >>= 8;
    }
}
inline uint64_t load48(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 0; i < 6; ++i) v = (v << 8) | p[i];
    return v;
}

// In-place AES-256-ECB encryption of `len` bytes (multiple of 16) through the job API.
void ecb_encrypt(IMB_MGR* mgr, const uint8_t* enc_keys, uint8_t* buf, uint64_t len) {
    IMB_JOB* job = IMB_GET_NEXT_JOB(mgr);
    job->cipher_mode = IMB_CIPHER_ECB;
    job->cipher_direction = IMB_DIR_ENCRYPT;
    job->chain_order = IMB_ORDER_CIPHER_HASH;
    job->hash_alg = IMB_AUTH_NULL;
    job->enc_keys = enc_keys;
    job->dec_keys = enc_keys;  // unused for encryption
    job->key_len_in_bytes = IMB_KEY_256_BYTES;
    job->src = buf;
    job->dst = buf;
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
    secure_wipe(blocks_, sizeof(blocks_));
}

bool NonceRng::rekey() {
    Domain& d = domain();
    std::lock_guard<std::mutex> lock(d.mu);
    const uint64_t epoch = nonce_detail::fork_epoch.load(std::memory_order_relaxed);
    if (!d.keyed || d.epoch != epoch) {
        uint8_t k[32];
        if (!fill_random(k, sizeof(k))) return false;
        alignas(16) uint8_t dec_keys[16 * 15];
        IMB_AES_KEYEXP_256(mgr_, k, d.enc_keys, dec_keys);
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
        for (uint32_t i = 0; i < kBatch; ++i) {
            uint8_t* blk = blocks_[i];
            blk[0] = static_cast<uint8_t>(r);
            blk[1] = 'N';
            store48(blk + 2, b[i]);
            std::memset(blk + 8, 0, 8);
        }
        ecb_encrypt(mgr_, enc_keys_, &blocks_[0][0], sizeof(blocks_));
        for (uint32_t i = 0; i < kBatch; ++i) {
            const uint64_t next_b = a[i] ^ load48(blocks_[i]);
            a[i] = b[i];
            b[i] = next_b;
        }
    }
    for (uint32_t i = 0; i < kBatch; ++i) {
        store48(batch_[i], a[i]);
        store48(batch_[i] + 6, b[i]);
    }
    counter_ += kBatch;
    pos_ = 0;
}

}  // namespace rustun
