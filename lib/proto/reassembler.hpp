// TCP stream reassembler: turns a byte stream into frames (docs/protocol.md, "Reading a TCP stream").
//
// Memory: one buffer of kFrameHeaderSize + max_payload bytes, allocated once in the constructor;
// nothing is allocated per frame. A frame is returned as a view into that buffer.
//
// Stream policy:
//   * fewer than 8 bytes buffered -> NeedMore (the header is judged only when complete, as the
//                                    reference does; e.g. trailing bytes after a frame wait);
//   * bad magic, else bad version -> BadMagic / BadVersion;
//   * declared length > max_payload -> LengthRefused;
//   these three are sticky: every later next() repeats them and no more input is accepted
//   (the caller closes the connection; there is no resynchronisation in this protocol).
//   * valid header, unknown type  -> the frame is buffered until complete, dropped, and reported
//                                    once as UnknownType (type and length filled in) so the caller
//                                    can count it; the stream continues.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "proto/frame.hpp"

namespace rustun {

enum class ReadStatus : uint8_t {
    NeedMore,       // no complete frame buffered; read more input
    Frame,          // a complete frame of a known type
    UnknownType,    // a complete frame of an unknown type was skipped
    BadMagic,       // sticky
    BadVersion,     // sticky
    LengthRefused,  // sticky; payload_length holds the declared length
};

struct ReadResult {
    ReadStatus status = ReadStatus::NeedMore;
    uint8_t type = 0;              // raw type byte (Frame, UnknownType, LengthRefused)
    uint16_t payload_length = 0;   // declared payload length in bytes (same cases)
    // Frame only: the payload bytes. Valid until the next non-const call on the reassembler.
    std::span<const uint8_t> payload;

    FrameType frame_type() const { return static_cast<FrameType>(type); }
};

class Reassembler {
public:
    // max_payload: largest payload_length accepted, in bytes (<= kMaxPayloadSize; larger values
    // are clamped). The buffer holds exactly one frame of that size.
    explicit Reassembler(size_t max_payload = kMaxPayloadSize);

    Reassembler(const Reassembler&) = delete;
    Reassembler& operator=(const Reassembler&) = delete;
    // A moved-from reassembler has no buffer: write_area() is empty and next() is NeedMore.
    Reassembler(Reassembler&& other) noexcept;
    Reassembler& operator=(Reassembler&& other) noexcept;

    // Free space to read() into. Never empty while the stream is healthy and next() has
    // returned NeedMore (the buffered bytes are then a strict prefix of one frame, which fits).
    // May be empty when complete frames are still buffered: drain next() first. Empty after a
    // sticky error. May move buffered bytes (memmove) when the frame in progress would not fit
    // in the remaining tail; this invalidates a previously returned payload view.
    std::span<uint8_t> write_area();
    // Marks n bytes of write_area() as filled. Precondition: n <= write_area().size().
    void commit(size_t n);

    // Copies as much of data[0..len) as fits; returns the number of bytes taken (<= len).
    // When it returns less than len, drain next() until NeedMore and feed the rest.
    size_t feed(const uint8_t* data, size_t len);

    // Classifies the buffered bytes; see the stream policy above.
    ReadResult next();

    // Bytes buffered and not yet returned or skipped.
    size_t buffered() const { return end_ - begin_; }
    size_t max_payload() const { return max_payload_; }
    bool failed() const { return sticky_ != ReadStatus::NeedMore; }

    // Forgets all buffered bytes and a sticky error (e.g. to reuse the object for a new
    // connection). Keeps the buffer.
    void reset();

private:
    // Total size in bytes of the frame starting at begin_ when its header is buffered,
    // otherwise kFrameHeaderSize. Only meaningful while the stream is healthy.
    size_t current_frame_need() const;
    // Enters the sticky error state and returns its result.
    ReadResult fail(ReadStatus status, const FrameHeader& header);

    std::unique_ptr<uint8_t[]> buf_;
    size_t capacity_ = 0;     // bytes; kFrameHeaderSize + max_payload_
    size_t max_payload_ = 0;  // bytes
    // Invariant: begin_ <= end_ <= capacity_. [begin_, end_) are buffered, unconsumed bytes.
    size_t begin_ = 0;
    size_t end_ = 0;
    ReadResult sticky_error_;
    ReadStatus sticky_ = ReadStatus::NeedMore;  // NeedMore = healthy
};

}  // namespace rustun
