// Per-worker direct-mapped cache endpoint -> source MAC of the last frame punted from it, so that
// the main lcore can address replies (TxFrame) and fresh bindings before any Data frame taught
// the session its MAC. One writer (the worker), lock-free readers (per-entry seqlock, util/seqlock.hpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "session_table.hpp"
#include "util/seqlock.hpp"

namespace rustun::dp {

class MacCache {
public:
    static constexpr uint32_t kEntries = cap::kMacCacheEntries;

    MacCache() : e_(std::make_unique<Entry[]>(kEntries)) {}

    void put(const EndpointKey& k, uint32_t hash, uint64_t mac) {  // the owning worker only
        Entry& e = e_[hash & (kEntries - 1)];
        if (e.mac.load(std::memory_order_relaxed) == mac && same(e, k)) return;
        e.lock.write([&] {
            for (int i = 0; i < 5; ++i) e.key[i].store(k.w[i], std::memory_order_relaxed);
            e.mac.store(mac, std::memory_order_relaxed);
        });
    }
    // The MAC (pack_mac form) or 0.
    uint64_t get(const EndpointKey& k, uint32_t hash) const {
        const Entry& e = e_[hash & (kEntries - 1)];
        bool eq = false;
        uint64_t mac = 0;
        const bool consistent = e.lock.read([&] {
            eq = same(e, k);
            mac = e.mac.load(std::memory_order_relaxed);
        }, kSeqRetries);
        return consistent && eq ? mac : 0;
    }

private:
    struct alignas(32) Entry {
        Seqlock lock;  // over key and mac
        std::atomic<uint32_t> key[5]{};
        std::atomic<uint64_t> mac{0};
    };
    static bool same(const Entry& e, const EndpointKey& k) {
        bool eq = true;
        for (int i = 0; i < 5; ++i) eq = eq && e.key[i].load(std::memory_order_relaxed) == k.w[i];
        return eq;
    }
    std::unique_ptr<Entry[]> e_;
};

}  // namespace rustun::dp
