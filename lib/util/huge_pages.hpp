// Memory advised as transparent huge pages, for what a packet path reads at random (the
// dataplane's session slots and client records, dataplane/huge_array.hpp; the expanded keys,
// lib/crypto/key_arena.hpp): with 4 KiB pages a cold record costs a page walk as well as a cache
// miss (docs/performance.md, "Address translation on this machine"). madvise(MADV_HUGEPAGE) is
// advice: with the kernel's THP mode "never" the memory is in ordinary pages; Debian's default
// is "madvise".
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>

namespace rustun {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

// `bytes` rounded up to whole 2 MiB pages, 2 MiB-aligned and advised as huge pages; null if the
// system refuses. Release with std::free. Off the hot path: the kernel faults the pages in on
// first touch.
inline void* alloc_huge_advised(size_t bytes) {
    const size_t rounded = bytes == 0 ? kHugePageBytes : (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
    void* p = std::aligned_alloc(kHugePageBytes, rounded);
    if (p != nullptr) (void)::madvise(p, rounded, MADV_HUGEPAGE);  // advice only: failure is harmless
    return p;
}

}  // namespace rustun
