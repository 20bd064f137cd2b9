#include "out_queue.hpp"

#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "block_pool.hpp"

namespace rustun::cp {

static constexpr size_t kBlock = BlockPool::kBlockSize;

OutQueue::~OutQueue() { clear(); }

void OutQueue::clear() {
    for (uint8_t* b : blocks_) BlockPool::instance().put(b);
    blocks_.clear();
    head_ = tail_ = bytes_ = 0;
}

void OutQueue::append(const uint8_t* p, size_t n) {
    while (n > 0) {
        if (blocks_.empty() || tail_ == kBlock) {
            blocks_.push_back(BlockPool::instance().get());
            tail_ = 0;
        }
        size_t take = kBlock - tail_;
        if (take > n) take = n;
        std::memcpy(blocks_.back() + tail_, p, take);
        tail_ += take;
        p += take;
        n -= take;
        bytes_ += take;
    }
}

bool OutQueue::push(const uint8_t* a, size_t alen, const uint8_t* b, size_t blen) {
    if (bytes_ + alen + blen > limit_) return false;
    if (blocks_.capacity() == 0) blocks_.reserve(limit_ / kBlock + 2);
    append(a, alen);
    if (blen) append(b, blen);
    return true;
}

OutQueue::FlushResult OutQueue::flush(int fd, size_t& written) {
    written = 0;
    while (bytes_ > 0) {
        iovec iov[64];
        int n = 0;
        for (size_t i = 0; i < blocks_.size() && n < 64; ++i) {
            size_t start = i == 0 ? head_ : 0;
            size_t end = i + 1 == blocks_.size() ? tail_ : kBlock;
            if (end > start) {
                iov[n].iov_base = blocks_[i] + start;
                iov[n].iov_len = end - start;
                ++n;
            }
        }
        ssize_t w = ::writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return FlushResult::WouldBlock;
            return FlushResult::Error;
        }
        written += (size_t)w;
        bytes_ -= (size_t)w;
        size_t left = (size_t)w;
        // Release fully written blocks.
        while (left > 0) {
            size_t end = blocks_.size() == 1 ? tail_ : kBlock;
            size_t avail = end - head_;
            if (left < avail) {
                head_ += left;
                left = 0;
            } else {
                left -= avail;
                if (blocks_.size() == 1) {
                    head_ = tail_ = 0;  // keep the last block only while data may follow
                } else {
                    BlockPool::instance().put(blocks_.front());
                    blocks_.erase(blocks_.begin());
                    head_ = 0;
                }
            }
        }
    }
    // Drained: give the last block back so that an idle connection holds nothing.
    if (!blocks_.empty()) {
        BlockPool::instance().put(blocks_.front());
        blocks_.clear();
        head_ = tail_ = 0;
    }
    return FlushResult::Drained;
}

}  // namespace rustun::cp
