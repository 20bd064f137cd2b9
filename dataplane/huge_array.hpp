// Arrays the workers index at random (the session table's slots, the client records): allocated
// 2 MiB-aligned and advised as transparent huge pages (madvise(MADV_HUGEPAGE); the kernel's THP
// mode "madvise" is Debian's default), so that a cold slot costs one cache miss, not a cache miss
// plus a page walk: 100,000 endpoints spread over 16 MB of slots in 4 KiB pages miss the TLB on
// almost every packet (docs/dataplane.md, "Cycle budget"). Without THP the advice is a no-op and
// the array is an ordinary one. Not for the hot path: allocation is done off it, by the main lcore.
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

namespace rustun::dp {

inline constexpr size_t kHugePage = size_t{2} << 20;

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
    const bool huge = n * sizeof(T) >= kHugePage / 2;
    const size_t align = huge ? kHugePage : 64;
    const size_t bytes = std::max<size_t>(align, (n * sizeof(T) + align - 1) / align * align);
    void* p = std::aligned_alloc(align, bytes);
    if (p == nullptr) throw std::bad_alloc();
    if (huge) (void)::madvise(p, bytes, MADV_HUGEPAGE);  // advice only: failure is harmless
    T* a = static_cast<T*>(p);
    for (size_t i = 0; i < n; ++i) new (a + i) T();
    return HugeArray<T>(a, HugeArrayDeleter<T>{n});
}

}  // namespace rustun::dp
