// Storage for CipherKey objects (their class operator new and delete use it).
//
// A relay reads one expanded key per packet, chosen by the sender's cluster: with 10,000
// clusters that is ≈ 14 MB of keys read at random. From malloc they would sit in 4 KiB pages,
// and each cold key would cost a TLB miss as well as its cache misses. Here they are packed into
// 2 MiB blocks advised as transparent huge pages, as the dataplane's session slots and client
// records are (dataplane/huge_array.hpp; docs/performance.md, "Address translation on this
// machine"). The first block is small and not advised, so that a process with a handful of keys
// (the client, the tools, the tests) does not pay a 2 MiB page for them.
//
// Fixed-size slots, a free list, one mutex: keys are made at configuration time, never on a
// packet path. Blocks are never returned to the system; freed slots are reused, so the memory
// held is that of the most keys alive at once.
#pragma once

#include <cstddef>

#include "util/huge_pages.hpp"

namespace rustun::key_arena {

inline constexpr size_t kSlotAlign = 64;
inline constexpr size_t kFirstBlockBytes = size_t{64} << 10;  // not advised as huge pages
inline constexpr size_t kBlockBytes = kHugePageBytes;         // one huge page each

// A 64-byte-aligned slot of at least `size` bytes (every call must pass the same size). Throws
// std::bad_alloc when the system refuses memory.
void* allocate(size_t size);
// Returns a slot from allocate(); null is ignored.
void deallocate(void* p) noexcept;

struct Stats {
    size_t blocks = 0;        // blocks allocated, the small first one included
    size_t huge_blocks = 0;   // of which 2 MiB blocks advised as huge pages
    size_t slots_in_use = 0;  // keys alive
};
Stats stats();

}  // namespace rustun::key_arena
