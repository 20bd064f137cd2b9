// Creating (dataplane) and attaching to (control plane) the shared-memory channel whose layout
// is in channel_layout.hpp. Each process gets its own SpscRing views; nothing but offsets is
// shared. Also message helpers: write a message into a reserved slot, read one from a slot.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shm/channel_layout.hpp"
#include "util/result.hpp"

namespace rustun::shm {

struct ChannelOptions {
    uint32_t workers = 1;               // DpToCp rings
    uint32_t control_slots = 16384;     // CpToDpControl ring (power of two)
    uint32_t tx_slots = 4096;           // CpToDpTx ring
    uint32_t dp_to_cp_slots = 4096;     // each DpToCp ring
};

class Channel {
public:
    // Dataplane: creates `path` afresh (replacing an old segment), initialises it with a new
    // random dp_epoch and publishes it (magic written last).
    static Result<std::unique_ptr<Channel>> create(const std::string& path, const ChannelOptions& opt);
    // Control plane: maps `path` and validates magic, version, slot size, ring table and sizes.
    // Errors say what is wrong ("not found", "version 2, expected 1", ...).
    static Result<std::unique_ptr<Channel>> attach(const std::string& path);
    ~Channel();
    Channel(const Channel&) = delete;
    Channel& operator=(const Channel&) = delete;

    SegmentHeader& header() { return *hdr_; }
    const std::string& path() const { return path_; }
    uint64_t dp_epoch() const { return hdr_->dp_epoch; }
    uint32_t workers() const { return hdr_->worker_count; }

    SpscRing& control() { return control_; }
    SpscRing& tx() { return tx_; }
    SpscRing& dp_to_cp(uint32_t worker) { return dp_to_cp_[worker]; }

    // Worker `w`'s counter block (kDpCounterCount uint64 slots, single writer).
    std::atomic<uint64_t>* counters(uint32_t w);
    // Sum over all workers of counter `c`.
    uint64_t counter_total(DpCounter c);

    // True if the segment at `path` is still this mapping (same inode) and published.
    bool still_current() const;

private:
    Channel() = default;
    Status map_rings();

    std::string path_;
    uint8_t* base_ = nullptr;
    size_t size_ = 0;
    uint64_t inode_ = 0;
    SegmentHeader* hdr_ = nullptr;
    SpscRing control_, tx_;
    std::vector<SpscRing> dp_to_cp_;
};

// Writes a message (header + body) into `slot` (kSlotSize bytes). body_len <= kMaxBody.
inline void write_msg(uint8_t* slot, MsgType type, const void* body, uint32_t body_len) {
    MsgHeader h{static_cast<uint16_t>(type), 0, body_len};
    std::memcpy(slot, &h, sizeof h);
    if (body_len) std::memcpy(slot + sizeof h, body, body_len);
}
inline const MsgHeader& msg_header(const uint8_t* slot) { return *reinterpret_cast<const MsgHeader*>(slot); }
inline const uint8_t* msg_body(const uint8_t* slot) { return slot + sizeof(MsgHeader); }

}  // namespace rustun::shm
