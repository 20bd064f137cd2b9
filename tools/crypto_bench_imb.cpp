#include "crypto_bench_imb.hpp"

#include <intel-ipsec-mb.h>
#include <x86intrin.h>

#include <algorithm>
#include <array>
#include <memory>
#include <random>

namespace rustun::bench {

namespace {

constexpr uint32_t kNonce = 12, kTag = 16;

struct MgrFree {
    void operator()(IMB_MGR* m) const { free_mb_mgr(m); }
};

struct Payloads {
    std::vector<std::vector<uint8_t>> ct;   // nonce || ciphertext || tag
    std::vector<std::vector<uint8_t>> out;  // plaintext destination
    std::vector<std::array<uint8_t, kTag>> tag;
};

enum class Alg { Gcm, ChaCha };
enum class Iface { Direct, BurstNocheck, BurstChecked, JobNocheck };

void fill_job(IMB_JOB* j, Alg alg, IMB_CIPHER_DIRECTION dir, const void* key, const uint8_t* in,
              uint8_t* out, uint32_t len, uint8_t* tag) {
    const bool gcm = alg == Alg::Gcm;
    j->cipher_mode = gcm ? IMB_CIPHER_GCM : IMB_CIPHER_CHACHA20_POLY1305;
    j->hash_alg = gcm ? IMB_AUTH_AES_GMAC : IMB_AUTH_CHACHA20_POLY1305;
    j->cipher_direction = dir;
    j->chain_order = dir == IMB_DIR_ENCRYPT ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
    j->enc_keys = key;
    j->dec_keys = key;
    j->key_len_in_bytes = IMB_KEY_256_BYTES;
    j->src = in + kNonce;
    j->dst = out;
    j->cipher_start_src_offset_in_bytes = 0;
    j->msg_len_to_cipher_in_bytes = len;
    j->hash_start_src_offset_in_bytes = 0;
    j->msg_len_to_hash_in_bytes = len;
    j->iv = in;
    j->iv_len_in_bytes = kNonce;
    j->auth_tag_output = tag;
    j->auth_tag_output_len_in_bytes = kTag;
    if (gcm) {
        j->u.GCM.aad = nullptr;
        j->u.GCM.aad_len_in_bytes = 0;
    } else {
        j->u.CHACHA20_POLY1305.aad = nullptr;
        j->u.CHACHA20_POLY1305.aad_len_in_bytes = 0;
    }
}

// One pass over all payloads; false if a job did not complete.
bool pass(IMB_MGR* m, Alg alg, Iface iface, const void* key, Payloads& p, uint32_t len) {
    const uint32_t n = static_cast<uint32_t>(p.ct.size());
    if (iface == Iface::Direct) {
        for (uint32_t i = 0; i < n; ++i) {
            const uint8_t* in = p.ct[i].data();
            if (alg == Alg::Gcm) {
                struct gcm_context_data ctx;
                IMB_AES256_GCM_DEC(m, static_cast<const gcm_key_data*>(key), &ctx,
                                   p.out[i].data(), in + kNonce, len, in, nullptr, 0,
                                   p.tag[i].data(), kTag);
            } else {
                struct chacha20_poly1305_context_data ctx;
                IMB_CHACHA20_POLY1305_INIT(m, key, &ctx, in, nullptr, 0);
                IMB_CHACHA20_POLY1305_DEC_UPDATE(m, key, &ctx, p.out[i].data(), in + kNonce, len);
                IMB_CHACHA20_POLY1305_DEC_FINALIZE(m, &ctx, p.tag[i].data(), kTag);
            }
        }
        return true;
    }
    if (iface == Iface::JobNocheck) {
        for (uint32_t i = 0; i < n; ++i) {
            fill_job(IMB_GET_NEXT_JOB(m), alg, IMB_DIR_DECRYPT, key, p.ct[i].data(),
                     p.out[i].data(), len, p.tag[i].data());
            IMB_JOB* d = IMB_SUBMIT_JOB_NOCHECK(m);
            while (d != nullptr) {
                if (d->status != IMB_STATUS_COMPLETED) return false;
                d = IMB_GET_COMPLETED_JOB(m);
            }
        }
        while (IMB_JOB* d = IMB_FLUSH_JOB(m)) {
            if (d->status != IMB_STATUS_COMPLETED) return false;
        }
        return true;
    }
    IMB_JOB* jobs[IMB_MAX_BURST_SIZE];
    if (IMB_GET_NEXT_BURST(m, n, jobs) != n) return false;
    for (uint32_t i = 0; i < n; ++i) {
        fill_job(jobs[i], alg, IMB_DIR_DECRYPT, key, p.ct[i].data(), p.out[i].data(), len,
                 p.tag[i].data());
    }
    uint32_t done = iface == Iface::BurstChecked ? IMB_SUBMIT_BURST(m, n, jobs)
                                                 : IMB_SUBMIT_BURST_NOCHECK(m, n, jobs);
    uint32_t total = done;
    for (uint32_t i = 0; i < done; ++i) {
        if (jobs[i]->status != IMB_STATUS_COMPLETED) return false;
    }
    while (total < n) {
        done = IMB_FLUSH_BURST(m, n - total, jobs);
        if (done == 0) return false;
        for (uint32_t i = 0; i < done; ++i) {
            if (jobs[i]->status != IMB_STATUS_COMPLETED) return false;
        }
        total += done;
    }
    return true;
}

}  // namespace

std::vector<InterfaceResult> compare_interfaces(const std::vector<uint32_t>& sizes,
                                                uint32_t batch, uint64_t packets_per_run,
                                                int runs) {
    std::unique_ptr<IMB_MGR, MgrFree> mgr(alloc_mb_mgr(0));
    if (!mgr) return {};
    init_mb_mgr_auto(mgr.get(), nullptr);
    IMB_MGR* m = mgr.get();
    batch = std::clamp<uint32_t>(batch, 1, IMB_MAX_BURST_SIZE);

    uint8_t raw_key[32];
    for (uint32_t i = 0; i < 32; ++i) raw_key[i] = static_cast<uint8_t>(i * 7 + 1);
    auto gcm_key = std::make_unique<gcm_key_data>();
    IMB_AES256_GCM_PRE(m, raw_key, gcm_key.get());

    std::vector<InterfaceResult> out;
    std::mt19937_64 rng(5);
    for (Alg alg : {Alg::Gcm, Alg::ChaCha}) {
        const void* key = alg == Alg::Gcm ? static_cast<const void*>(gcm_key.get()) : raw_key;
        for (uint32_t len : sizes) {
            // Valid payloads, encrypted through the job API.
            Payloads p;
            for (uint32_t i = 0; i < batch; ++i) {
                std::vector<uint8_t> ct(kNonce + len + kTag);
                for (auto& b : ct) b = static_cast<uint8_t>(rng());
                std::vector<uint8_t> pt(ct.begin() + kNonce, ct.begin() + kNonce + len);
                IMB_JOB* j = IMB_GET_NEXT_JOB(m);
                fill_job(j, alg, IMB_DIR_ENCRYPT, key, ct.data(), ct.data() + kNonce, len,
                         ct.data() + kNonce + len);
                j->src = pt.data();  // plaintext in, ciphertext after the nonce
                IMB_JOB* d = IMB_SUBMIT_JOB(m);
                if (d == nullptr) d = IMB_FLUSH_JOB(m);
                if (d == nullptr || d->status != IMB_STATUS_COMPLETED) return {};
                p.ct.push_back(std::move(ct));
                p.out.emplace_back(len + 1);
                p.tag.emplace_back();
            }
            for (Iface iface : {Iface::Direct, Iface::JobNocheck, Iface::BurstNocheck,
                                Iface::BurstChecked}) {
                const uint64_t passes = std::max<uint64_t>(packets_per_run / batch, 1);
                std::vector<double> cpp;
                for (int r = 0; r < runs; ++r) {
                    const uint64_t t0 = __rdtsc();
                    for (uint64_t k = 0; k < passes; ++k) {
                        if (!pass(m, alg, iface, key, p, len)) return {};
                    }
                    cpp.push_back(static_cast<double>(__rdtsc() - t0) /
                                  static_cast<double>(passes * batch));
                }
                // The computed tags must match the received ones (the timed work was real).
                for (uint32_t i = 0; i < batch; ++i) {
                    if (!std::equal(p.tag[i].begin(), p.tag[i].end(),
                                    p.ct[i].end() - kTag)) {
                        return {};
                    }
                }
                std::sort(cpp.begin(), cpp.end());
                InterfaceResult res;
                res.cipher = alg == Alg::Gcm ? "aes256" : "chacha20";
                res.interface = iface == Iface::Direct         ? "direct"
                                : iface == Iface::JobNocheck   ? "job-nocheck"
                                : iface == Iface::BurstNocheck ? "burst-nocheck"
                                                               : "burst-checked";
                res.size = len;
                res.cycles_per_packet = cpp.front();  // fastest run, as in the main table
                out.push_back(res);
            }
        }
    }
    return out;
}

}  // namespace rustun::bench
