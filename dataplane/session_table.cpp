#include "session_table.hpp"

#include <cstring>

namespace rustun::dp {

SessionTable::SessionTable(uint32_t capacity) : capacity_(capacity) {
    uint64_t n = 16;
    while (n < uint64_t{capacity} * 2) n <<= 1;
    mask_ = static_cast<uint32_t>(n - 1);
    slots_ = make_huge_array<Slot>(n);
}

bool SessionTable::read_slot(uint32_t i, EndpointKey& k, uint32_t& v) const {
    const Slot& s = slots_[i];
    const bool consistent = s.lock.read([&] {
        v = s.value.load(std::memory_order_relaxed);
        for (int j = 0; j < 5; ++j) k.w[j] = s.key[j].load(std::memory_order_relaxed);
    }, kSeqRetries);
    if (consistent) return true;
    v = kTomb;  // undecided: not a match, but keep probing past it
    return false;
}

uint32_t SessionTable::lookup(const EndpointKey& k, uint32_t hash) const {
    for (uint32_t n = 0, i = hash & mask_; n < kMaxProbe; ++n, i = (i + 1) & mask_) {
        EndpointKey sk;
        uint32_t v;
        read_slot(i, sk, v);
        if (v == kEmpty) return kNoSession;
        if (v != kTomb && sk == k) return v;
    }
    return kNoSession;
}

void SessionTable::write_slot(uint32_t i, const EndpointKey& k, uint32_t v) {
    Slot& s = slots_[i];
    s.lock.write([&] {
        s.value.store(v, std::memory_order_relaxed);
        for (int j = 0; j < 5; ++j) s.key[j].store(k.w[j], std::memory_order_relaxed);
    });
}

int64_t SessionTable::find(const EndpointKey& k, uint32_t hash) const {
    for (uint32_t n = 0, i = hash & mask_; n < kMaxProbe; ++n, i = (i + 1) & mask_) {
        const Slot& s = slots_[i];
        const uint32_t v = s.value.load(std::memory_order_relaxed);
        if (v == kEmpty) return -1;
        if (v == kTomb) continue;
        bool eq = true;
        for (int j = 0; j < 5; ++j) eq = eq && s.key[j].load(std::memory_order_relaxed) == k.w[j];
        if (eq) return i;
    }
    return -1;
}

SessionTable::Insert SessionTable::insert(const EndpointKey& k, uint32_t value) {
    const uint32_t h = endpoint_hash(k);
    if (int64_t at = find(k, h); at >= 0) {
        if (slots_[at].value.load(std::memory_order_relaxed) != value) write_slot(static_cast<uint32_t>(at), k, value);
        return Insert::Replaced;
    }
    if (live_ >= capacity_) return Insert::Full;
    for (uint32_t n = 0, i = h & mask_; n < kMaxProbe; ++n, i = (i + 1) & mask_) {
        const uint32_t v = slots_[i].value.load(std::memory_order_relaxed);
        if (v == kEmpty || v == kTomb) {
            if (v == kTomb) --tombs_;
            write_slot(i, k, value);
            ++live_;
            return Insert::Added;
        }
    }
    return Insert::Full;
}

bool SessionTable::erase(const EndpointKey& k) {
    int64_t at = find(k, endpoint_hash(k));
    if (at < 0) return false;
    write_slot(static_cast<uint32_t>(at), k, kTomb);
    --live_;
    ++tombs_;
    return true;
}

}  // namespace rustun::dp
