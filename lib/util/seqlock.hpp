// A single-writer sequence lock over a few std::atomic words that live next to it (Boehm,
// "Can seqlocks get along with programming language memory models?", 2012, figure 6).
//
// Only the 4-byte sequence word is here; the protected fields stay in the caller's struct (so the
// caller keeps its exact layout: a 32-byte hash slot, a 64-byte per-client line). Every protected
// field must be a std::atomic accessed with memory_order_relaxed inside the callbacks: then a
// reader racing with the writer reads stale or torn *values*, never undefined behaviour, and the
// sequence check below throws such a copy away.
//
// Invariants:
//   * One writer at a time (the caller guarantees it: one thread owns writes). Readers never
//     block the writer and never take a lock; the writer never waits for readers.
//   * seq is even while no write is in progress and odd during one; every write adds 2.
//   * Writer: seq := s + 1 (relaxed), then a release fence, so no field store can become visible
//     before the odd value; fields (relaxed); seq := s + 2 (release), so every field store is
//     visible before the even value.
//   * Reader: s1 := seq (acquire; field loads cannot move before it); retry if s1 is odd; fields
//     (relaxed); an acquire fence, so the field loads complete before the second read of seq;
//     the copy is consistent iff seq still equals s1.
//   * A reader gives up after `attempts` tries (read() returns false) instead of spinning on a
//     writer preempted mid-write: a worker never waits for the main lcore.
#pragma once

#include <atomic>
#include <cstdint>

namespace rustun {

class Seqlock {
public:
    // Runs `store_fields()` (relaxed stores of the protected fields) as one write.
    template <typename StoreFields>
    void write(StoreFields&& store_fields) noexcept {
        const uint32_t s = seq_.load(std::memory_order_relaxed);
        seq_.store(s + 1, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_release);
        store_fields();
        seq_.store(s + 2, std::memory_order_release);
    }

    // Runs `load_fields()` (relaxed loads of the protected fields into the caller's copy) until
    // one run saw no concurrent write, at most `attempts` times. True: the copy the last run made
    // is consistent. False: every attempt met a write; the copy must not be used.
    template <typename LoadFields>
    bool read(LoadFields&& load_fields, uint32_t attempts) const noexcept {
        for (uint32_t attempt = 0; attempt < attempts; ++attempt) {
            const uint32_t s1 = seq_.load(std::memory_order_acquire);
            if (s1 & 1) continue;  // the writer is in the middle of a write (a few ns)
            load_fields();
            std::atomic_thread_fence(std::memory_order_acquire);
            if (seq_.load(std::memory_order_relaxed) == s1) return true;
        }
        return false;
    }

    // The sequence value (tests and diagnostics): even = quiescent.
    uint32_t sequence() const noexcept { return seq_.load(std::memory_order_relaxed); }

private:
    std::atomic<uint32_t> seq_{0};
};
static_assert(sizeof(Seqlock) == 4, "callers rely on the 4-byte sequence word for their layout");

}  // namespace rustun
