// Fields of a client's runtime state that the TCP relay reads without the state mutex
// (docs/controlplane.md, "Shared state and its locking rules"): once per Data batch a worker loads
// the current Membership generation (SharedState::snapshot(), an atomic shared_ptr swapped by a
// reload, as the dataplane's workers load their generation) and reads, per frame, the sender's
// and the destination's connection and the destination's UDP binding through these wrappers.
//
// Invariants: every write happens under the state mutex (so there is one writer at a time);
// reads under the mutex see the last write; reads without it see a consistent value (an atomic,
// or a seqlock-checked copy) that may be one write old. Each wrapper copies like the value it
// wraps, so the structs that hold them (ClientRuntime, UdpBinding) keep their value semantics.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>

#include "util/seqlock.hpp"

namespace rustun::cp {

// A shared_ptr slot: store() under the state mutex; load() (an owning copy) from any thread;
// get() (the raw pointer, no reference taken) for comparisons, and for dereferencing under the
// state mutex, while the slot keeps the object alive.
template <typename T>
class RelayPtr {
public:
    RelayPtr() = default;
    RelayPtr(const RelayPtr& o) { store(o.load()); }
    RelayPtr& operator=(const RelayPtr& o) {
        store(o.load());
        return *this;
    }
    RelayPtr& operator=(std::shared_ptr<T> p) {
        store(std::move(p));
        return *this;
    }
    RelayPtr& operator=(std::nullptr_t) {
        store(nullptr);
        return *this;
    }
    void store(std::shared_ptr<T> p) {
        raw_.store(p.get(), std::memory_order_release);
        p_.store(std::move(p), std::memory_order_release);
    }
    std::shared_ptr<T> load() const { return p_.load(std::memory_order_acquire); }
    operator std::shared_ptr<T>() const { return load(); }
    T* get() const { return raw_.load(std::memory_order_acquire); }
    T* operator->() const { return get(); }
    explicit operator bool() const { return get() != nullptr; }
    bool operator==(std::nullptr_t) const { return get() == nullptr; }
    bool operator==(const std::shared_ptr<T>& o) const { return get() == o.get(); }

private:
    std::atomic<std::shared_ptr<T>> p_;
    std::atomic<T*> raw_{nullptr};
};

// A small trivially copyable value (bool, a time point), relaxed: written under the state mutex.
template <typename T>
class RelayValue {
public:
    RelayValue() = default;
    RelayValue(T v) : v_(v) {}  // NOLINT: converts like the plain member it replaces
    RelayValue(const RelayValue& o) : v_(o.load()) {}
    RelayValue& operator=(const RelayValue& o) {
        v_.store(o.load(), std::memory_order_relaxed);
        return *this;
    }
    RelayValue& operator=(T v) {
        v_.store(v, std::memory_order_relaxed);
        return *this;
    }
    T load() const { return v_.load(std::memory_order_relaxed); }
    operator T() const { return load(); }

private:
    std::atomic<T> v_{};
};

// A struct of a few 32-bit words behind a seqlock. Its words come first, so that the object's
// first sizeof(T) bytes are the value (a memcmp against a T compares the value, under the mutex).
template <typename T>
class RelaySeq {
    static_assert(sizeof(T) % 4 == 0 && std::is_trivially_copyable_v<T>);
    static constexpr size_t kWords = sizeof(T) / 4;

public:
    RelaySeq() = default;
    RelaySeq(const RelaySeq& o) { store(o.load()); }
    RelaySeq& operator=(const RelaySeq& o) {
        store(o.load());
        return *this;
    }
    RelaySeq& operator=(const T& v) {
        store(v);
        return *this;
    }
    void store(const T& v) {
        uint32_t w[kWords];
        std::memcpy(w, &v, sizeof v);
        lock_.write([&] {
            for (size_t i = 0; i < kWords; ++i) words_[i].store(w[i], std::memory_order_relaxed);
        });
    }
    // A consistent copy. The writer (under the state mutex) takes nanoseconds, so the retries
    // end quickly; after them the last copy is returned (a reader under the mutex never races).
    T load() const {
        uint32_t w[kWords];
        lock_.read([&] {
            for (size_t i = 0; i < kWords; ++i) w[i] = words_[i].load(std::memory_order_relaxed);
        }, 1u << 20);
        T v;
        std::memcpy(&v, w, sizeof v);
        return v;
    }
    operator T() const { return load(); }

private:
    std::atomic<uint32_t> words_[kWords]{};
    Seqlock lock_;
};

}  // namespace rustun::cp
