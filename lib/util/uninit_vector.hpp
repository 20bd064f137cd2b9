// A std::vector whose resize() leaves new elements default-initialised: for trivial types such as
// bytes that is no initialisation at all. For buffers that grow by a size and are then written in
// full (a frame sealed in place), where the zero-fill of std::vector<uint8_t>::resize() is a
// second pass over every byte.
#pragma once

#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace rustun {

template <typename T, typename A = std::allocator<T>>
class DefaultInitAllocator : public A {
    using Traits = std::allocator_traits<A>;

public:
    template <typename U>
    struct rebind {
        using other = DefaultInitAllocator<U, typename Traits::template rebind_alloc<U>>;
    };
    using A::A;

    // value-initialisation (`T()`, zero for bytes) becomes default-initialisation (nothing)
    template <typename U>
    void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
        ::new (static_cast<void*>(p)) U;
    }
    template <typename U, typename... Args>
    void construct(U* p, Args&&... args) {
        Traits::construct(static_cast<A&>(*this), p, std::forward<Args>(args)...);
    }
};

// Bytes whose resize() does not zero what it adds: write every added byte before reading it.
using UninitBytes = std::vector<uint8_t, DefaultInitAllocator<uint8_t>>;

}  // namespace rustun
