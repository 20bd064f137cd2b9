// Per-connection output queue bounded in bytes. Frames are appended whole (never split across a
// refusal); the bytes live in BlockPool blocks, so an idle connection holds no memory and
// steady-state relaying does not allocate. flush() writes everything queued with one writev.
//
// Not thread-safe by itself: the owner (Connection) guards it with its mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace rustun::cp {

class OutQueue {
public:
    explicit OutQueue(size_t limit_bytes = 1 << 20) : limit_(limit_bytes) {}
    ~OutQueue();
    OutQueue(const OutQueue&) = delete;
    OutQueue& operator=(const OutQueue&) = delete;

    void set_limit(size_t bytes) { limit_ = bytes; }
    size_t limit() const { return limit_; }
    size_t bytes() const { return bytes_; }
    bool empty() const { return bytes_ == 0; }

    // Appends a whole frame (several parts, e.g. header + payload). Returns false, appending
    // nothing, if the queue would exceed its limit.
    bool push(const uint8_t* a, size_t alen, const uint8_t* b = nullptr, size_t blen = 0);

    enum class FlushResult { Drained, WouldBlock, Error };
    // Writes as much as the socket takes (writev, repeated until EAGAIN or empty). Returns the
    // blocks to the pool as they drain. `written` receives the bytes written by this call.
    FlushResult flush(int fd, size_t& written);

    // Drops everything queued (connection closing).
    void clear();

private:
    void append(const uint8_t* p, size_t n);
    std::vector<uint8_t*> blocks_;  // blocks_[0] holds the head; reserved once, never shrunk
    size_t head_ = 0;               // offset of the first unsent byte in blocks_[0]
    size_t tail_ = 0;               // bytes used in blocks_.back()
    size_t bytes_ = 0;              // queued, not yet written
    size_t limit_;
};

}  // namespace rustun::cp
