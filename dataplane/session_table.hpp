// Endpoint -> client index table, one writer (the main lcore) and lock-free readers (workers).
//
// Open addressing with linear probing over a power-of-two array of 32-byte slots (two per cache
// line). Each slot is a tiny seqlock (util/seqlock.hpp): the writer makes the sequence odd, rewrites
// the key/value words, makes it even again; a reader copies the words between two reads of an even,
// unchanged sequence and retries otherwise, at most kSeqRetries times: a reader that keeps meeting a slot in the middle
// of a write (the writer was preempted there) reports a miss instead of waiting, so a worker never
// waits for the main lcore. Readers never block the writer and never take a lock; the writer never
// waits for readers. Deleted slots become tombstones (probing continues over them); an insert
// reuses the first tombstone on its path. Tombstones are cleared only by building a new table
// (a new generation, state.hpp), which the owner does when `needs_rebuild()`.
//
// Capacity: `capacity` live entries in 2 x capacity (rounded up to a power of two) slots, so the
// load factor stays <= 1/2 and a probe sequence is short. Lookups stop at a never-used slot or
// after kMaxProbe slots; inserts refuse beyond kMaxProbe (counted by the caller as a full table).
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>

#include "capacities.hpp"
#include "huge_array.hpp"
#include "shm/channel_layout.hpp"
#include "util/seqlock.hpp"

namespace rustun::dp {

inline constexpr uint32_t kNoSession = 0xffffffffu;
// Seqlock read attempts before a reader gives up (treats the entry as absent).
inline constexpr uint32_t kSeqRetries = cap::kSeqRetries;

// An endpoint as five 32-bit words (family|pad|port, then 16 address bytes), normalised.
// Inline: every packet computes one (a call per packet cost more than the work).
struct EndpointKey {
    uint32_t w[5];
    static EndpointKey from(const shm::Endpoint& e) {
        shm::Endpoint n{};
        n.family = e.family;
        n.port = e.port;
        std::memcpy(n.addr, e.addr, e.family == 4 ? 4 : 16);
        EndpointKey k;
        std::memcpy(k.w, &n, sizeof n);
        return k;
    }
    // The key of a packet's source straight from the frame: words built in registers (the
    // byte-wise shm::Endpoint + memcpy of from() made a 16-byte load wait on narrower stores,
    // a store-forwarding stall on every packet). `addr`: 4 (family 4) or 16 bytes.
    static EndpointKey of(uint8_t family, uint16_t port, const uint8_t* addr) {
        EndpointKey k;
        k.w[0] = uint32_t{family} | uint32_t{port} << 16;  // family, pad 0, port (little-endian words)
        if (family == 4) {
            std::memcpy(&k.w[1], addr, 4);
            k.w[2] = k.w[3] = k.w[4] = 0;
        } else {
            std::memcpy(&k.w[1], addr, 16);
        }
        return k;
    }
    shm::Endpoint to_endpoint() const {
        shm::Endpoint e;
        std::memcpy(&e, w, sizeof e);
        return e;
    }
    bool operator==(const EndpointKey&) const = default;
};
static_assert(sizeof(EndpointKey) == sizeof(shm::Endpoint));
static_assert(std::endian::native == std::endian::little, "EndpointKey::of builds little-endian words");

inline uint32_t endpoint_hash(const EndpointKey& k) {
    // Multiply-xorshift, good enough against accidental clustering. (A sender chooses only its own
    // source port, so it cannot flood one probe run by itself.) The words are multiplied in three
    // independent lanes and mixed once at the end: a dependency chain of 2 multiplies per packet
    // instead of 5 (stage 1 computes it for every packet of a burst).
    const uint64_t a = ((uint64_t{k.w[0]} | uint64_t{k.w[1]} << 32) ^ 0x9E3779B97F4A7C15ull) * 0xff51afd7ed558ccdull;
    const uint64_t b = ((uint64_t{k.w[2]} | uint64_t{k.w[3]} << 32) ^ 0xC2B2AE3D27D4EB4Full) * 0xc4ceb9fe1a85ec53ull;
    const uint64_t c = (uint64_t{k.w[4]} ^ 0x165667B19E3779F9ull) * 0x9E3779B97F4A7C15ull;
    uint64_t h = a ^ (a >> 32) ^ b ^ (b >> 29) ^ c ^ (c >> 31);
    h *= 0xff51afd7ed558ccdull;
    return static_cast<uint32_t>(h ^ (h >> 32));
}

class SessionTable {
public:
    static constexpr uint32_t kMaxProbe = cap::kSessionMaxProbe;
    static constexpr uint32_t kEmpty = 0xffffffffu;  // value of a never-used slot
    static constexpr uint32_t kTomb = 0xfffffffeu;   // value of a deleted slot

    explicit SessionTable(uint32_t capacity);
    SessionTable(const SessionTable&) = delete;
    SessionTable& operator=(const SessionTable&) = delete;

    // ---- readers (any thread) ----
    // The value bound to `k`, or kNoSession.
    uint32_t lookup(const EndpointKey& k, uint32_t hash) const;
    uint32_t lookup(const EndpointKey& k) const { return lookup(k, endpoint_hash(k)); }
    void prefetch(uint32_t hash) const { __builtin_prefetch(&slots_[hash & mask_]); }

    // ---- the single writer ----
    enum class Insert : uint8_t { Added, Replaced, Full };
    // Binds `k` to `value` (< kTomb), replacing an existing binding of `k`.
    Insert insert(const EndpointKey& k, uint32_t value);
    // Removes `k`; false if absent.
    bool erase(const EndpointKey& k);

    uint32_t size() const { return live_; }
    uint32_t capacity() const { return capacity_; }
    uint32_t tombstones() const { return tombs_; }
    // True when tombstones make probing long: build a fresh table.
    bool needs_rebuild() const { return live_ + tombs_ > (mask_ + 1) / 4 * 3; }

    // Visits live entries (writer side or quiescent; for telemetry a racy snapshot is fine).
    template <typename F>
    void for_each(F&& f, uint32_t limit = 0xffffffffu) const {
        for (uint32_t i = 0; i <= mask_ && limit; ++i) {
            EndpointKey k;
            uint32_t v;
            if (read_slot(i, k, v) && v < kTomb) {
                f(k, v);
                --limit;
            }
        }
    }

private:
    struct alignas(32) Slot {
        Seqlock lock;  // over value and key
        std::atomic<uint32_t> value{kEmpty};
        std::atomic<uint32_t> key[5]{};
        uint32_t pad = 0;
    };
    static_assert(sizeof(Slot) == 32);

    bool read_slot(uint32_t i, EndpointKey& k, uint32_t& v) const;
    void write_slot(uint32_t i, const EndpointKey& k, uint32_t v);
    // Slot index holding `k` (writer side: no seqlock needed), or -1.
    int64_t find(const EndpointKey& k, uint32_t hash) const;

    HugeArray<Slot> slots_;  // huge pages: a cold slot is one miss, not a miss and a page walk
    uint32_t mask_ = 0;
    uint32_t capacity_ = 0;
    uint32_t live_ = 0;
    uint32_t tombs_ = 0;
};

}  // namespace rustun::dp
