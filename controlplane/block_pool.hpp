// A process-wide pool of fixed-size byte blocks for connection input and output buffers.
// Idle connections hold no block; a busy connection takes blocks from the pool and returns them
// when drained, so steady-state relaying does not call malloc. Thread-safe (a mutex-protected
// free list; taken once per block, not per frame).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace rustun::cp {

class BlockPool {
public:
    // One block holds a maximum frame (8 + 65535 bytes) with room to spare.
    static constexpr size_t kBlockSize = 65536 + 64;

    static BlockPool& instance();

    uint8_t* get();
    void put(uint8_t* block);

    // Blocks currently handed out / cached in the free list (for stats).
    size_t in_use() const;
    size_t cached() const;

private:
    BlockPool() = default;
    // The pool is a function-local static: its destructor runs at exit and frees the cached
    // blocks, so that LeakSanitizer sees no block left behind (blocks still handed out belong to
    // whoever holds them).
    ~BlockPool();
    mutable std::mutex mu_;
    std::vector<uint8_t*> free_;
    size_t in_use_ = 0;
    // Free blocks kept for reuse beyond this are returned to the allocator: 64 MiB.
    static constexpr size_t kMaxCached = 1024;
};

}  // namespace rustun::cp
