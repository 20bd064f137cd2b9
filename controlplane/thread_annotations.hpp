// Clang thread-safety annotations (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html) and a
// mutex the analysis understands. Under clang with -Wthread-safety (the `build-tsa` stage of
// scripts/test.sh) the compiler checks every locking rule written with these macros: a member
// marked GUARDED_BY(mu) is touched only with mu held, a function marked REQUIRES(mu) is called
// only with mu held. Under GCC the macros expand to nothing.
//
// Mutex wraps std::mutex and MutexLock is its scoped lock, as abseil's absl::Mutex/MutexLock:
// std::mutex itself carries no annotations in libstdc++, so the analysis cannot see it.
#pragma once

#include <mutex>

#if defined(__clang__)
#define RUSTUN_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define RUSTUN_THREAD_ANNOTATION(x)
#endif

// A type that is a lock (here: Mutex).
#define CAPABILITY(name) RUSTUN_THREAD_ANNOTATION(capability(name))
// An RAII type that holds a capability for its lifetime (here: MutexLock).
#define SCOPED_CAPABILITY RUSTUN_THREAD_ANNOTATION(scoped_lockable)
// The member is read and written only with the capability held.
#define GUARDED_BY(x) RUSTUN_THREAD_ANNOTATION(guarded_by(x))
// What the pointer points to is read and written only with the capability held.
#define PT_GUARDED_BY(x) RUSTUN_THREAD_ANNOTATION(pt_guarded_by(x))
// The caller holds the capability (exclusively).
#define REQUIRES(...) RUSTUN_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
// The function takes the capability and returns with it held.
#define ACQUIRE(...) RUSTUN_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
// The function releases a capability the caller held.
#define RELEASE(...) RUSTUN_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
// The caller must not hold the capability (the function takes it).
#define EXCLUDES(...) RUSTUN_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
// The function returns a reference to the capability `x` (so that callers can lock it by name).
#define RETURN_CAPABILITY(x) RUSTUN_THREAD_ANNOTATION(lock_returned(x))
// Opts one function out of the analysis; every use says why.
#define NO_THREAD_SAFETY_ANALYSIS RUSTUN_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace rustun::cp {

class CAPABILITY("mutex") Mutex {
public:
    Mutex() = default;
    Mutex(const Mutex&) = delete;
    Mutex& operator=(const Mutex&) = delete;

    void lock() ACQUIRE() { m_.lock(); }
    void unlock() RELEASE() { m_.unlock(); }

private:
    std::mutex m_;
};

// Holds `mu` from construction to destruction, or until unlock().
class SCOPED_CAPABILITY MutexLock {
public:
    explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
    ~MutexLock() RELEASE() {
        if (held_) mu_.unlock();
    }
    MutexLock(const MutexLock&) = delete;
    MutexLock& operator=(const MutexLock&) = delete;

    // Releases early (e.g. before logging and closing a connection).
    void unlock() RELEASE() {
        mu_.unlock();
        held_ = false;
    }

private:
    Mutex& mu_;
    bool held_ = true;
};

}  // namespace rustun::cp
