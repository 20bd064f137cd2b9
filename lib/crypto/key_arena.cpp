#include "crypto/key_arena.hpp"

#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#include "util/huge_pages.hpp"

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
    std::vector<char*> blocks;  // every block, never freed: [0] the small one, then huge ones
    size_t in_use = 0;          // slots handed out and not returned
};

// Never destroyed: keys held by static objects may be freed after main() returns.
Arena& arena() {
    static Arena* a = new Arena;
    return *a;
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
        ++a.in_use;
        return s;
    }
    if (static_cast<size_t>(a.end - a.cursor) < a.slot) {  // also before the first block (both null)
        char* block = nullptr;
        size_t bytes = 0;
        if (a.blocks.empty()) {
            bytes = kFirstBlockBytes;
            block = static_cast<char*>(std::aligned_alloc(kSlotAlign, bytes));
        } else {
            bytes = kBlockBytes;
            block = static_cast<char*>(alloc_huge_advised(bytes));
        }
        if (block == nullptr) throw std::bad_alloc();
        a.blocks.push_back(block);
        a.cursor = block;
        a.end = block + bytes;
        RUSTUN_POISON(block, bytes);
    }
    void* p = a.cursor;
    a.cursor += a.slot;
    RUSTUN_UNPOISON(p, a.slot);
    ++a.in_use;
    return p;
}

void deallocate(void* p) noexcept {
    if (p == nullptr) return;
    Arena& a = arena();
    std::lock_guard lock(a.mu);
    auto* s = static_cast<FreeSlot*>(p);
    s->next = a.free;
    a.free = s;
    --a.in_use;
    // The link stays readable for the allocator; the rest is poisoned until reused.
    RUSTUN_POISON(reinterpret_cast<char*>(p) + sizeof(FreeSlot), a.slot - sizeof(FreeSlot));
}

Stats stats() {
    Arena& a = arena();
    std::lock_guard lock(a.mu);
    const size_t blocks = a.blocks.size();
    return Stats{blocks, blocks > 0 ? blocks - 1 : 0, a.in_use};
}

}  // namespace rustun::key_arena
