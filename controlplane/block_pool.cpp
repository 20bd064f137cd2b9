#include "block_pool.hpp"

#include <cstdlib>
#include <new>

namespace rustun::cp {

BlockPool& BlockPool::instance() {
    static BlockPool pool;
    return pool;
}

BlockPool::~BlockPool() {
    std::lock_guard<std::mutex> lk(mu_);
    for (uint8_t* b : free_) std::free(b);
    free_.clear();
}

uint8_t* BlockPool::get() {
    {
        std::lock_guard<std::mutex> lk(mu_);
        ++in_use_;
        if (!free_.empty()) {
            uint8_t* b = free_.back();
            free_.pop_back();
            return b;
        }
    }
    void* p = std::aligned_alloc(64, kBlockSize);
    if (!p) throw std::bad_alloc();
    return static_cast<uint8_t*>(p);
}

void BlockPool::put(uint8_t* block) {
    if (!block) return;
    {
        std::lock_guard<std::mutex> lk(mu_);
        --in_use_;
        if (free_.size() < kMaxCached) {
            free_.push_back(block);
            return;
        }
    }
    std::free(block);
}

size_t BlockPool::in_use() const {
    std::lock_guard<std::mutex> lk(mu_);
    return in_use_;
}

size_t BlockPool::cached() const {
    std::lock_guard<std::mutex> lk(mu_);
    return free_.size();
}

}  // namespace rustun::cp
