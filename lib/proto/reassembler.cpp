#include "proto/reassembler.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <utility>

#include "util/endian.hpp"

namespace rustun {

Reassembler::Reassembler(size_t max_payload)
    : max_payload_(std::min(max_payload, kMaxPayloadSize)) {
    capacity_ = kFrameHeaderSize + max_payload_;
    buf_ = std::make_unique_for_overwrite<uint8_t[]>(capacity_);
}

Reassembler::Reassembler(Reassembler&& other) noexcept
    : buf_(std::move(other.buf_)),
      capacity_(std::exchange(other.capacity_, 0)),
      max_payload_(std::exchange(other.max_payload_, 0)),
      begin_(std::exchange(other.begin_, 0)),
      end_(std::exchange(other.end_, 0)),
      sticky_error_(std::exchange(other.sticky_error_, ReadResult{})),
      sticky_(std::exchange(other.sticky_, ReadStatus::NeedMore)) {}

Reassembler& Reassembler::operator=(Reassembler&& other) noexcept {
    if (this != &other) {
        buf_ = std::move(other.buf_);
        capacity_ = std::exchange(other.capacity_, 0);
        max_payload_ = std::exchange(other.max_payload_, 0);
        begin_ = std::exchange(other.begin_, 0);
        end_ = std::exchange(other.end_, 0);
        sticky_error_ = std::exchange(other.sticky_error_, ReadResult{});
        sticky_ = std::exchange(other.sticky_, ReadStatus::NeedMore);
    }
    return *this;
}

void Reassembler::reset() {
    begin_ = end_ = 0;
    sticky_ = ReadStatus::NeedMore;
    sticky_error_ = ReadResult{};
}

size_t Reassembler::current_frame_need() const {
    if (end_ - begin_ < kFrameHeaderSize) return kFrameHeaderSize;
    const uint8_t* h = buf_.get() + begin_;
    return kFrameHeaderSize + load_be16(h + 6);
}

std::span<uint8_t> Reassembler::write_area() {
    if (failed()) return {};
    if (buf_ == nullptr) return {};
    if (begin_ == end_) {
        begin_ = end_ = 0;  // empty: rewind for free
    } else if (begin_ > 0) {
        // Compact only when the frame in progress cannot complete in the tail. need is at most
        // capacity_ while healthy: a header announcing more would have been refused by next();
        // a header not yet judged by next() is clamped so the move is still well defined.
        const size_t need = std::min(current_frame_need(), capacity_);
        if (begin_ + need > capacity_) {
            std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
        }
    }
    return {buf_.get() + end_, capacity_ - end_};
}

void Reassembler::commit(size_t n) {
    assert(!failed() || n == 0);
    assert(n <= capacity_ - end_);
    if (failed()) return;  // write_area() was empty; nothing can have been written
    end_ += std::min(n, capacity_ - end_);
}

size_t Reassembler::feed(const uint8_t* data, size_t len) {
    const std::span<uint8_t> area = write_area();
    const size_t n = std::min(area.size(), len);
    if (n > 0) std::memcpy(area.data(), data, n);
    commit(n);
    return n;
}

ReadResult Reassembler::fail(ReadStatus status, const FrameHeader& header) {
    sticky_ = status;
    sticky_error_ = ReadResult{};
    sticky_error_.status = status;
    if (status == ReadStatus::LengthRefused) {
        sticky_error_.type = header.type;
        sticky_error_.payload_length = header.payload_length;
    }
    return sticky_error_;
}

ReadResult Reassembler::next() {
    if (failed()) return sticky_error_;
    if (begin_ == end_) return ReadResult{};

    const uint8_t* p = buf_.get() + begin_;
    const size_t avail = end_ - begin_;
    FrameHeader header;
    switch (decode_header({p, avail}, header)) {
        case HeaderStatus::TooShort: return ReadResult{};
        case HeaderStatus::BadMagic: return fail(ReadStatus::BadMagic, header);
        case HeaderStatus::BadVersion: return fail(ReadStatus::BadVersion, header);
        case HeaderStatus::Ok: break;
    }
    if (header.payload_length > max_payload_) return fail(ReadStatus::LengthRefused, header);

    const size_t total = header.frame_size();
    if (avail < total) return ReadResult{};

    ReadResult r;
    r.type = header.type;
    r.payload_length = header.payload_length;
    begin_ += total;  // bytes stay in place until the next mutating call
    if (!is_known_type(header.type)) {
        r.status = ReadStatus::UnknownType;
        return r;
    }
    r.status = ReadStatus::Frame;
    r.payload = {p + kFrameHeaderSize, header.payload_length};
    return r;
}

}  // namespace rustun
