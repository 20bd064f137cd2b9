#include "crypto/key_arena.hpp"

#include <sys/mman.h>

#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define RUSTUN_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define RUSTUN_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define RUSTUN_POISON(p, n) ((void)(p), (void)(n))
#define RUSTUN_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace rustun::key_arena {

namespace {

struct FreeSlot {
    FreeSlot* next;
};

struct Arena {
    std::mutex mu;
    size_t slot = 0;            // bytes per slot, fixed by the first allocate()
    FreeSlot* free = nullptr;   // freed slots, reused first
    char* cursor = nullptr;     // the unused rest of the newest block
    char* end = nullptr;
    std::vector<char*> blocks;  // every block, never freed
    Stats stats;
};

// Never destroyed: keys held by static objects may be freed after main() returns.
Arena& arena() {
    static Arena* a = new Arena;
    return *a;
}

// A 2 MiB-aligned block of 2 MiB advised as a huge page (as dataplane/huge_array.hpp does);
// null if the system refuses. From the C heap, so that a leak checker sees what keys point to.
char* huge_block() {
    auto* block = static_cast<char*>(std::aligned_alloc(kBlockBytes, kBlockBytes));
    if (block != nullptr) (void)::madvise(block, kBlockBytes, MADV_HUGEPAGE);  // advice only
    return block;
}

}  // namespace

void* allocate(size_t size) {
    Arena& a = arena();
    std::lock_guard lock(a.mu);
    if (a.slot == 0) a.slot = (size + kSlotAlign - 1) / kSlotAlign * kSlotAlign;
    if (size > a.slot) throw std::bad_alloc();  // a second slot size: not what this is for
    if (FreeSlot* s = a.free) {
        RUSTUN_UNPOISON(s, a.slot);
        a.free = s->next;
        ++a.stats.slots_in_use;
        return s;
    }
    if (a.cursor == nullptr || static_cast<size_t>(a.end - a.cursor) < a.slot) {
        char* block = nullptr;
        size_t bytes = 0;
        if (a.stats.blocks == 0) {
            bytes = kFirstBlockBytes;
            block = static_cast<char*>(std::aligned_alloc(kSlotAlign, bytes));
        } else {
            bytes = kBlockBytes;
            block = huge_block();
            if (block != nullptr) ++a.stats.huge_blocks;
        }
        if (block == nullptr) throw std::bad_alloc();
        a.blocks.push_back(block);
        ++a.stats.blocks;
        a.cursor = block;
        a.end = block + bytes;
        RUSTUN_POISON(block, bytes);
    }
    void* p = a.cursor;
    a.cursor += a.slot;
    RUSTUN_UNPOISON(p, a.slot);
    ++a.stats.slots_in_use;
    return p;
}

void deallocate(void* p) noexcept {
    if (p == nullptr) return;
    Arena& a = arena();
    std::lock_guard lock(a.mu);
    auto* s = static_cast<FreeSlot*>(p);
    s->next = a.free;
    a.free = s;
    --a.stats.slots_in_use;
    // The link stays readable for the allocator; the rest is poisoned until reused.
    RUSTUN_POISON(reinterpret_cast<char*>(p) + sizeof(FreeSlot), a.slot - sizeof(FreeSlot));
}

Stats stats() {
    Arena& a = arena();
    std::lock_guard lock(a.mu);
    return a.stats;
}

}  // namespace rustun::key_arena
