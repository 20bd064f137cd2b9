// Creating (dataplane) and attaching to (control plane) the shared-memory channel whose layout
// is in channel_layout.hpp. Each process gets its own SpscRing views; nothing but offsets is
// shared. Also message helpers: write a message into a reserved slot, read one from a slot.
#pragma once

#include <cstdint>
#include <cstring>
#include <utility>
#include <memory>
#include <string>
#include <vector>

#include "shm/channel_layout.hpp"
#include "util/result.hpp"

namespace rustun::shm {

struct ChannelOptions {
    uint32_t workers = 1;               // DpToCp and DpToCpDeliver rings
    uint32_t control_slots = 16384;     // CpToDpControl ring (power of two)
    uint32_t tx_slots = 4096;           // CpToDpTx ring
    uint32_t dp_to_cp_slots = 4096;     // each DpToCp (punt) ring
    uint32_t deliver_slots = 2048;      // each DpToCpDeliver ring
    // The group allowed to attach (dataplane.channel_group), or -1: without it the channel
    // directory is created 0700 and the file 0600; with it 0750 and 0660, both of that group.
    int64_t group = -1;
    // The dataplane's software version for SegmentHeader::dp_version (cut to kVersionBytes - 1).
    std::string software_version;
};

// Why an attach failed: the control plane logs Absent/NotReady quietly (the dataplane is just not
// up) and Unsafe/Layout loudly (someone else's file, or a foreign or corrupt segment).
// Version: a segment of another kChannelVersion (a dataplane of another release).
enum class AttachFailure : uint8_t { None, Absent, NotReady, Unsafe, Layout, Version };

class Channel {
public:
    // Dataplane: creates `path` afresh (replacing an old segment), initialises it with a new
    // random dp_epoch and publishes it (magic written last). The parent directory is created
    // (0700, or 0750 with opt.group) if missing; an existing one must pass the same checks as on
    // attach. The file is created with O_EXCL|O_NOFOLLOW, mode 0600 (0660 with opt.group).
    static Result<std::unique_ptr<Channel>> create(const std::string& path, const ChannelOptions& opt);
    // Control plane: opens `path` (O_NOFOLLOW) and refuses it unless its directory is not
    // world-writable, is owned by our euid or root and is group-writable only by one of our
    // groups, and the file is a regular file owned by our euid or root with a mode no wider than
    // 0660. Then maps it and validates magic, version, slot size, ring table and sizes; the
    // validated values are kept privately and never read from the segment again.
    // Errors say what is wrong ("not found", "version 2, expected 1", ...).
    static Result<std::unique_ptr<Channel>> attach(const std::string& path, AttachFailure* why = nullptr);
    ~Channel();
    Channel(const Channel&) = delete;
    Channel& operator=(const Channel&) = delete;

    // The shared header: only its atomics (heartbeats, states, epochs) may be read after attach;
    // everything the layout depends on is in the private copies below.
    SegmentHeader& header() { return *hdr_; }
    const std::string& path() const { return path_; }
    uint64_t dp_epoch() const { return dp_epoch_; }
    uint32_t dp_pid() const { return dp_pid_; }
    // The dataplane's software version, copied at attach (printable ASCII; "" if it wrote none).
    const std::string& dp_version() const { return dp_version_; }
    uint32_t workers() const { return workers_; }
    size_t size() const { return size_; }
    uint8_t* base() { return base_; }

    SpscRing& control() { return control_; }
    SpscRing& tx() { return tx_; }
    SpscRing& dp_to_cp(uint32_t worker) { return dp_to_cp_.at(worker); }
    SpscRing& deliver(uint32_t worker) { return deliver_.at(worker); }

    // Worker `w`'s counter block (kDpCounterCount uint64 slots; its one writer is worker w's
    // lcore, which adds with add_owned()). w < workers().
    std::atomic<uint64_t>* counters(uint32_t w);
    // The main lcore's own block (after the workers'): its one writer is the main lcore.
    std::atomic<uint64_t>* main_counters();
    // Sum of counter `c` over every block (the workers' and the main lcore's).
    uint64_t counter_total(DpCounter c);

    // True if the segment at `path` is still this mapping (same inode).
    bool still_current() const;

private:
    Channel() = default;
    Status map_rings(const RingDesc* descs, uint32_t count);
    std::atomic<uint64_t>* block(uint32_t b);  // b < counter_blocks(workers_)

    std::string path_;
    uint8_t* base_ = nullptr;
    size_t size_ = 0;
    uint64_t inode_ = 0, dev_ = 0;
    SegmentHeader* hdr_ = nullptr;
    // Validated copies of the header fields (never re-read from shared memory).
    uint64_t dp_epoch_ = 0;
    uint32_t dp_pid_ = 0;
    std::string dp_version_;
    uint32_t workers_ = 0;
    uint64_t counters_offset_ = 0, counter_stride_ = 0;
    SpscRing control_, tx_;
    std::vector<SpscRing> dp_to_cp_, deliver_;
};

// The parent directory of a channel path and its last component ("." and the path if no '/').
std::pair<std::string, std::string> split_channel_path(const std::string& path);

// Writes a message (header + body) into `slot` (kSlotSize bytes). body_len <= kMaxBody.
inline void write_msg(uint8_t* slot, MsgType type, const void* body, uint32_t body_len) {
    MsgHeader h{static_cast<uint16_t>(type), 0, body_len};
    std::memcpy(slot, &h, sizeof h);
    if (body_len) std::memcpy(slot + sizeof h, body, body_len);
}
inline const MsgHeader& msg_header(const uint8_t* slot) { return *reinterpret_cast<const MsgHeader*>(slot); }
inline const uint8_t* msg_body(const uint8_t* slot) { return slot + sizeof(MsgHeader); }

}  // namespace rustun::shm
