// A single-producer single-consumer ring of fixed-size slots in memory shared by two processes
// (docs/shm-channel.md). No pointers are stored in the shared memory: a ring is described by its
// header (slot count and size) and located by offset in the segment; each process builds its own
// SpscRing view over its own mapping.
//
// Memory ordering: the producer writes a slot, then publishes `head` with a release store; the
// consumer reads `head` with an acquire load, reads the slots, then releases them by publishing
// `tail` (release). Each side keeps a private cached copy of the other side's index and refreshes
// it only when the ring looks full/empty, so the shared lines move between cores only then.
// Indices are free-running 64-bit counters (slot = index & mask); they never wrap in practice.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

namespace rustun::shm {

inline constexpr size_t kCacheLine = 64;

// Shared ring header: three cache lines (immutable description, producer line, consumer line).
struct alignas(kCacheLine) RingHeader {
    // --- line 0: written once at creation ---
    uint32_t slot_count;  // power of two
    uint32_t slot_size;   // bytes, multiple of 64
    uint32_t kind;        // RingKind (channel_layout.hpp)
    uint32_t index;       // e.g. the worker number for per-worker rings
    uint8_t pad0[kCacheLine - 16];
    // --- line 1: written by the producer only ---
    alignas(kCacheLine) std::atomic<uint64_t> head;  // slots published
    uint8_t pad1[kCacheLine - 8];
    // --- line 2: written by the consumer only ---
    alignas(kCacheLine) std::atomic<uint64_t> tail;  // slots released
    uint8_t pad2[kCacheLine - 8];
};
static_assert(sizeof(RingHeader) == 3 * kCacheLine);
static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared atomics must be lock-free");

// Bytes one ring occupies in the segment (header + slots).
constexpr size_t ring_bytes(uint32_t slot_count, uint32_t slot_size) {
    return sizeof(RingHeader) + static_cast<size_t>(slot_count) * slot_size;
}

// One process's view of a ring. Use it only from one producer thread or one consumer thread.
class SpscRing {
public:
    SpscRing() = default;
    // `base` points at the RingHeader inside this process's mapping; slot_count (a power of two)
    // and slot_size are the values the caller validated: they are never read again from the
    // shared header, which the other process could change afterwards.
    SpscRing(void* base, uint32_t slot_count, uint32_t slot_size)
        : hdr_(static_cast<RingHeader*>(base)),
          slots_(static_cast<uint8_t*>(base) + sizeof(RingHeader)),
          mask_(slot_count - 1),
          slot_size_(slot_size) {}

    // Initialises a ring in fresh shared memory (creator only, before publishing the segment).
    static void init(void* base, uint32_t slot_count, uint32_t slot_size, uint32_t kind, uint32_t index) {
        auto* h = new (base) RingHeader{};
        h->slot_count = slot_count;
        h->slot_size = slot_size;
        h->kind = kind;
        h->index = index;
        h->head.store(0, std::memory_order_relaxed);
        h->tail.store(0, std::memory_order_relaxed);
    }

    bool valid() const { return hdr_ != nullptr; }
    uint32_t slot_size() const { return slot_size_; }
    uint32_t capacity() const { return mask_ + 1; }

    // ---- producer ----
    // A slot to fill, or nullptr if the ring is full. Call commit() to publish it.
    uint8_t* reserve() {
        if (prod_head_ - prod_tail_cache_ > mask_) {
            prod_tail_cache_ = hdr_->tail.load(std::memory_order_acquire);
            if (prod_head_ - prod_tail_cache_ > mask_) return nullptr;
        }
        return slots_ + (prod_head_ & mask_) * slot_size_;
    }
    // Publishes the reserved slot. Batch several reserve()/advance() and one publish() to move
    // the shared line once per batch.
    void advance() { ++prod_head_; }
    void publish() { hdr_->head.store(prod_head_, std::memory_order_release); }
    void commit() {
        advance();
        publish();
    }
    // Producer restart: continue from the published head (e.g. a restarted control plane).
    void attach_producer() {
        prod_head_ = hdr_->head.load(std::memory_order_relaxed);
        prod_tail_cache_ = hdr_->tail.load(std::memory_order_acquire);
    }

    // ---- consumer ----
    // The next filled slot, or nullptr if empty. Call release() when done with it.
    const uint8_t* peek() {
        if (cons_tail_ == cons_head_cache_) {
            cons_head_cache_ = hdr_->head.load(std::memory_order_acquire);
            if (cons_tail_ == cons_head_cache_) return nullptr;
            // The other process's index is not trusted: a head that runs more than a ring ahead
            // (or behind) is corruption; report empty rather than replay stale slots.
            if (cons_head_cache_ - cons_tail_ > static_cast<uint64_t>(mask_) + 1) {
                cons_head_cache_ = cons_tail_;
                return nullptr;
            }
        }
        return slots_ + (cons_tail_ & mask_) * slot_size_;
    }
    void consume() { ++cons_tail_; }
    void release() { hdr_->tail.store(cons_tail_, std::memory_order_release); }
    void attach_consumer() {
        cons_tail_ = hdr_->tail.load(std::memory_order_relaxed);
        cons_head_cache_ = hdr_->head.load(std::memory_order_acquire);
        // Same distrust as in peek(): more than a ring's worth pending is corruption.
        if (cons_head_cache_ - cons_tail_ > static_cast<uint64_t>(mask_) + 1) cons_head_cache_ = cons_tail_;
    }
    // Slots waiting (approximate from either side).
    uint64_t used() const {
        return hdr_->head.load(std::memory_order_acquire) - hdr_->tail.load(std::memory_order_acquire);
    }

private:
    RingHeader* hdr_ = nullptr;
    uint8_t* slots_ = nullptr;
    uint32_t mask_ = 0;
    uint32_t slot_size_ = 0;
    // Private to the producer / the consumer (never in shared memory).
    uint64_t prod_head_ = 0, prod_tail_cache_ = 0;
    uint64_t cons_tail_ = 0, cons_head_cache_ = 0;
};

}  // namespace rustun::shm
