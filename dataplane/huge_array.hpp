// Arrays the workers index at random (the session table's slots, the client records): allocated
// 2 MiB-aligned and advised as transparent huge pages (madvise(MADV_HUGEPAGE); the kernel's THP
// mode "madvise" is Debian's default), so that a cold slot costs one cache miss, not a cache miss
// plus a page walk: 100,000 endpoints spread over 16 MB of slots in 4 KiB pages miss the TLB on
// almost every packet (docs/dataplane.md, "Cycle budget"). Without THP the advice is a no-op and
// the array is an ordinary one. Not for the hot path: allocation is done off it, by the main lcore.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

#include "util/huge_pages.hpp"

namespace rustun::dp {

template <typename T>
struct HugeArrayDeleter {
    size_t n = 0;
    void operator()(T* p) const {
        for (size_t i = 0; i < n; ++i) p[i].~T();
        std::free(p);
    }
};
template <typename T>
using HugeArray = std::unique_ptr<T[], HugeArrayDeleter<T>>;

// n value-initialised elements; throws std::bad_alloc like make_unique<T[]>. Arrays under 1 MiB
// (small configurations, tests) are plain 64-byte-aligned allocations.
template <typename T>
HugeArray<T> make_huge_array(size_t n) {
    static_assert(alignof(T) <= 64);
    const size_t bytes = n * sizeof(T);
    void* p = bytes >= kHugePageBytes / 2 ? alloc_huge_advised(bytes)
                                          : std::aligned_alloc(64, std::max<size_t>(64, (bytes + 63) / 64 * 64));
    if (p == nullptr) throw std::bad_alloc();
    T* a = static_cast<T*>(p);
    for (size_t i = 0; i < n; ++i) new (a + i) T();
    return HugeArray<T>(a, HugeArrayDeleter<T>{n});
}

}  // namespace rustun::dp
