// The shared-memory channel between rustun-controlplane and rustun-dataplane, byte by byte
// (docs/shm-channel.md is the prose version of this header; keep them in step).
//
// The dataplane creates the segment (a file in a directory only the gateway's user can write,
// by default /run/rustun/) at start and recreates it, with a new dp_epoch, when it restarts; the control plane attaches, checks magic/version/sizes, and
// re-attaches when dp_epoch changes. Nothing in the segment is a pointer: rings and counter
// blocks are located by offsets from the segment start. All multi-byte fields are host byte order
// (both processes run on the same machine); addresses inside messages are network byte order.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "shm/dp_counters.hpp"
#include "shm/spsc_ring.hpp"

namespace rustun::shm {

inline constexpr uint64_t kChannelMagic = 0x4c4e484353545552ull;  // "RUSTCHNL" little-endian
// 2: counters drop_malformed, drop_no_address6, drop_bad_txframe; 3: TcpDeliverMsg.cp_epoch;
// 4: drop_port_* counters; 5: a DpToCpDeliver ring per worker (TcpDeliver apart from punts),
// 126 ring descriptors, counter drop_deliver_ring_full (and later, without a new version,
// drop_bad_control, drop_replay, drop_*_rate_limited, drop_port_kernel_ring); 6: a counter block
// of the main lcore's own after the workers', ClientSet.flags (kClientSetAppendCidrs); 7: several
// CpToDpTx rings (`tx_ring_count`, in the former reserved0; one per control-plane thread, so that
// the TCP relay's workers never share a producer lock), the extra ones after the worker rings,
// and the rt_* runtime counters (per-stage cycles, burst histogram, busy/idle polls); 8: the
// fleet's UDP link (FleetLinkSet, LinkPeerSet, RemoteHomeSet, ClusterSetMsg.name, the link_*
// counters).
inline constexpr uint32_t kChannelVersion = 8;
inline constexpr uint32_t kSlotSize = 2048;      // bytes per ring slot
inline constexpr uint32_t kMaxWorkers = 62;
inline constexpr uint32_t kMaxRings = 2 + 2 * kMaxWorkers;  // control, tx, two per worker, more tx
// CpToDpTx rings: ring 0 for the control plane's dataplane link, the others for its workers
// (docs/shm-channel.md, "Segment layout"). Fewer when the ring table is full of worker rings.
inline constexpr uint32_t kMaxTxRings = 8;
constexpr uint32_t ring_count(uint32_t workers, uint32_t tx_rings) { return 1 + tx_rings + 2 * workers; }
inline constexpr size_t kHeaderBytes = 4096;     // the segment header region
inline constexpr size_t kVersionBytes = 64;      // SegmentHeader::dp_version, NUL included

// kDpCounterCount of each layout version (index = version, 0 unused): a counter appended without
// a new kChannelVersion fails to compile below. Version 5 grew from 37 to 41 without a bump (the
// reason for this table); a new version records its count here and in docs/shm-channel.md.
inline constexpr uint32_t kDpCounterCountOfVersion[] = {0, 28, 31, 31, 35, 41, 41, 60, 70};
static_assert(sizeof(kDpCounterCountOfVersion) / sizeof(uint32_t) == kChannelVersion + 1,
              "a new kChannelVersion: record its counter count in kDpCounterCountOfVersion");
static_assert(kDpCounterCount == kDpCounterCountOfVersion[kChannelVersion],
              "RUSTUN_DP_COUNTERS changed: bump kChannelVersion and record the new count");

// Counter blocks in a segment of `workers` workers: one per worker, then the main lcore's (each
// block has exactly one writer, so no writer needs an atomic read-modify-write).
constexpr uint32_t counter_blocks(uint32_t workers) { return workers + 1; }

enum class RingKind : uint32_t {
    CpToDpControl = 0,  // table updates and sync markers (consumer: the dataplane's main lcore)
    CpToDpTx = 1,       // frames the dataplane sends on the control plane's behalf (index: producer)
    DpToCp = 2,         // one per worker: punted frames (Punt)
    DpToCpDeliver = 3,  // one per worker: authenticated Data for TCP delivery (TcpDeliver)
};

enum class DpState : uint32_t { Starting = 0, Running = 1, Stopping = 2 };

struct RingDesc {
    uint64_t offset;  // from the segment start to the RingHeader
    uint32_t kind;    // RingKind
    uint32_t index;   // worker number for DpToCp(Deliver) rings, ring number for CpToDpTx
};
static_assert(sizeof(RingDesc) == 16);

struct alignas(kCacheLine) SegmentHeader {
    // --- line 0..: immutable after the segment is published (magic is written last) ---
    std::atomic<uint64_t> magic;  // kChannelMagic once initialised
    uint32_t version;             // kChannelVersion
    uint32_t header_bytes;        // kHeaderBytes
    uint64_t segment_bytes;       // the whole mapping
    uint64_t dp_epoch;            // random per dataplane start; changes on restart
    uint32_t slot_size;           // kSlotSize
    uint32_t ring_count;          // ring_count(worker_count, tx_ring_count)
    uint32_t worker_count;
    uint32_t counter_count;       // kDpCounterCount at creation
    uint64_t counters_offset;     // counter_blocks(worker_count) blocks of counter_stride bytes
    uint64_t counter_stride;      // bytes, multiple of 64
    uint32_t dp_pid;
    uint32_t tx_ring_count;       // CpToDpTx rings, 1..kMaxTxRings (version 7; was reserved0)
    RingDesc rings[kMaxRings];
    // --- written by the dataplane ---
    alignas(kCacheLine) std::atomic<uint64_t> dp_heartbeat_ns;  // CLOCK_MONOTONIC, every ~10 ms
    std::atomic<uint32_t> dp_state;                             // DpState
    uint32_t reserved1;
    std::atomic<uint64_t> dp_applied_cp_epoch;  // cp_epoch of the last SyncEnd applied
    std::atomic<uint64_t> sessions;             // endpoint bindings in use
    std::atomic<uint64_t> session_capacity;
    // --- written by the control plane ---
    alignas(kCacheLine) std::atomic<uint64_t> cp_heartbeat_ns;  // CLOCK_MONOTONIC, every ~100 ms
    std::atomic<uint64_t> cp_epoch;                             // per control-plane start
    std::atomic<uint32_t> cp_pid;
    // --- immutable, written by the dataplane before magic: its software version (`git describe`),
    // NUL-terminated, cut to 63 bytes; all zero from a dataplane older than this field (it was
    // unused header space, so no new kChannelVersion). Offset 2240 stays in every later channel
    // version: a control plane names the dataplane's build even when the versions differ. ---
    alignas(kCacheLine) char dp_version[kVersionBytes];
};
inline constexpr size_t kDpVersionOffset = 2240;
static_assert(sizeof(SegmentHeader) <= kHeaderBytes);
static_assert(offsetof(SegmentHeader, version) == 8 && offsetof(SegmentHeader, header_bytes) == 12 &&
              offsetof(SegmentHeader, segment_bytes) == 16 && offsetof(SegmentHeader, dp_epoch) == 24 &&
              offsetof(SegmentHeader, slot_size) == 32 && offsetof(SegmentHeader, ring_count) == 36 &&
              offsetof(SegmentHeader, worker_count) == 40 && offsetof(SegmentHeader, counter_count) == 44 &&
              offsetof(SegmentHeader, counters_offset) == 48 && offsetof(SegmentHeader, counter_stride) == 56 &&
              offsetof(SegmentHeader, dp_pid) == 64);
static_assert(offsetof(SegmentHeader, rings) == 72 && sizeof(SegmentHeader::rings) == 2016);
static_assert(offsetof(SegmentHeader, dp_heartbeat_ns) == 2112 && offsetof(SegmentHeader, dp_state) == 2120 &&
              offsetof(SegmentHeader, dp_applied_cp_epoch) == 2128 && offsetof(SegmentHeader, sessions) == 2136 &&
              offsetof(SegmentHeader, session_capacity) == 2144);
static_assert(offsetof(SegmentHeader, cp_heartbeat_ns) == 2176 && offsetof(SegmentHeader, cp_epoch) == 2184 &&
              offsetof(SegmentHeader, cp_pid) == 2192 &&
              offsetof(SegmentHeader, dp_version) == kDpVersionOffset && sizeof(SegmentHeader) == 2304);
static_assert(offsetof(SegmentHeader, magic) == 0 && offsetof(SegmentHeader, tx_ring_count) == 68 &&
              offsetof(SegmentHeader, reserved1) == 2124);
static_assert(offsetof(RingDesc, offset) == 0 && offsetof(RingDesc, kind) == 8 && offsetof(RingDesc, index) == 12);
// The ring header (spsc_ring.hpp), as documented: description line, producer line, consumer line.
static_assert(offsetof(RingHeader, slot_count) == 0 && offsetof(RingHeader, slot_size) == 4 &&
              offsetof(RingHeader, kind) == 8 && offsetof(RingHeader, index) == 12 &&
              offsetof(RingHeader, head) == 64 && offsetof(RingHeader, tail) == 128 && sizeof(RingHeader) == 192);

// ---- Messages: every slot starts with a MsgHeader; `len` bytes of body follow it. ----

enum class MsgType : uint16_t {
    // CpToDpControl
    SyncBegin = 1,      // SyncMsg: a full state follows; keep forwarding on the old state
    SyncEnd = 2,        // SyncMsg: build and switch to the new state
    ClusterSet = 3,     // ClusterSetMsg
    ClientSet = 4,      // ClientSetMsg (create or replace)
    ClientRemove = 5,   // ClientIdMsg
    EndpointSet = 6,    // EndpointSetMsg: bind a client to a UDP endpoint
    EndpointClear = 7,  // ClientIdMsg
    Commit = 8,         // (no body) apply the ClientSet/ClientRemove seen since the last Commit
    // The fleet's UDP link (docs/fleet.md, "UDP link through the dataplane"); version 8.
    FleetLinkSet = 9,    // FleetLinkMsg: our gateway id and the fleet key (at Commit / SyncEnd)
    LinkPeerSet = 10,    // LinkPeerMsg: a fleet member's dataplane address, or its removal (at Commit / SyncEnd)
    RemoteHomeSet = 11,  // RemoteHomeMsg: a client is online on another member (in place, at once)
    // CpToDpTx
    TxFrame = 20,  // TxFrameMsg
    LinkTx = 21,   // LinkTxMsg: a Data frame for a client online on another member (the fleet's UDP link)
    // DpToCp
    Punt = 30,        // PuntMsg: a frame for the control plane (KeepAlive, Handshake, ...)
    TcpDeliver = 31,  // TcpDeliverMsg: an authenticated Data frame for a client without live UDP
};

struct MsgHeader {
    uint16_t type;   // MsgType
    uint16_t flags;  // 0
    uint32_t len;    // body bytes after this header
};
static_assert(sizeof(MsgHeader) == 8 && offsetof(MsgHeader, flags) == 2 && offsetof(MsgHeader, len) == 4);
inline constexpr uint32_t kMaxBody = kSlotSize - sizeof(MsgHeader);

enum class AddrFamily : uint8_t { None = 0, V4 = 4, V6 = 6 };

// A UDP endpoint. addr: IPv4 in addr[0..4) (rest zero) or IPv6; network byte order.
struct Endpoint {
    uint8_t family;  // AddrFamily
    uint8_t pad;
    uint16_t port;   // host byte order
    uint8_t addr[16];
};
static_assert(sizeof(Endpoint) == 20 && offsetof(Endpoint, port) == 2 && offsetof(Endpoint, addr) == 4);

struct SyncMsg {
    uint64_t cp_epoch;
    uint32_t cluster_count;
    uint32_t client_count;
};
static_assert(sizeof(SyncMsg) == 16 && offsetof(SyncMsg, cluster_count) == 8 && offsetof(SyncMsg, client_count) == 12);

// Cipher of one cluster. method: CipherMethod (crypto/cipher_spec.hpp); key: the derived key
// (32 bytes for the AEADs, the raw XOR key, nothing for plain).
// name_len 0: no name, the body ends after the key (8 + key_len bytes); else the cluster's name
// follows at offset 1032 (the body is 1032 + name_len bytes): the fleet's link frames name a
// cluster, which the dataplane resolves to its own ids (version 8; the byte was padding).
struct ClusterSetMsg {
    uint32_t cluster_id;
    uint8_t method;
    uint8_t name_len;  // 0..255
    uint16_t key_len;  // <= kMaxKey
    static constexpr uint32_t kMaxKey = 1024;
    static constexpr uint32_t kMaxName = 255;
    uint8_t key[kMaxKey];
    char name[kMaxName];
};
static_assert(sizeof(ClusterSetMsg) == 8 + 1024 + 256 && // 1 byte of tail padding
              offsetof(ClusterSetMsg, method) == 4 &&
              offsetof(ClusterSetMsg, name_len) == 5 && offsetof(ClusterSetMsg, key_len) == 6 &&
              offsetof(ClusterSetMsg, key) == 8 && offsetof(ClusterSetMsg, name) == 1032);

struct Cidr {
    uint32_t network;  // host byte order, host bits cleared
    uint8_t prefix_len;
    uint8_t pad[3];
};
static_assert(sizeof(Cidr) == 8 && offsetof(Cidr, prefix_len) == 4);

struct ClientSetMsg {
    uint32_t client_id;   // the control plane's ClientId in the current cp_epoch
    uint32_t cluster_id;
    uint32_t private_ip;  // host byte order
    uint16_t cidr_count;  // <= kMaxCidrs, in this message
    uint16_t flags;       // kClientSet* bits (0: create or replace the client)
    static constexpr uint32_t kMaxCidrs = 250;
    Cidr cidrs[kMaxCidrs];
};
static_assert(sizeof(ClientSetMsg) == 16 + 250 * 8);
static_assert(sizeof(ClientSetMsg) <= kMaxBody);
static_assert(offsetof(ClientSetMsg, cidr_count) == 12 && offsetof(ClientSetMsg, flags) == 14 &&
              offsetof(ClientSetMsg, cidrs) == 16);
// A client with more than kMaxCidrs CIDRs: its first ClientSet carries kMaxCidrs of them, then
// ClientSets with this flag (same client_id, cluster_id, private_ip, right after it) append the
// rest, kMaxCidrs at most each (channel version 6; before, the control plane cut at 250).
inline constexpr uint16_t kClientSetAppendCidrs = 1;

struct ClientIdMsg {
    uint32_t client_id;
    uint32_t pad;
};

struct EndpointSetMsg {
    uint32_t client_id;
    uint32_t flags;  // kEndpoint* bits (was padding: 0 = a plain binding)
    Endpoint endpoint;
    // With kEndpointReplay: Data counters below (replay_floor_hi << 32) are replays.
    uint32_t replay_floor_hi;
};
static_assert(sizeof(EndpointSetMsg) == 32 && offsetof(EndpointSetMsg, flags) == 4 &&
              offsetof(EndpointSetMsg, endpoint) == 8 && offsetof(EndpointSetMsg, replay_floor_hi) == 28);
// Inside a sync: the control plane accepted a KeepAlive from this endpoint within the live window.
inline constexpr uint32_t kEndpointLive = 1;
// The client opted into Data replay protection (docs/protocol-extensions.md): counter nonces.
inline constexpr uint32_t kEndpointReplay = 2;

// ---- The fleet's UDP link (docs/fleet.md, "UDP link through the dataplane") ----
inline constexpr uint32_t kMaxLinkPeers = 64;     // fleet members a dataplane sends link frames to
inline constexpr uint16_t kNoLinkPeer = 0xffff;

// method 0: no UDP link (link frames are dropped, nothing is sent over it); else the fleet key's
// CipherMethod (Aes256Gcm or ChaCha20Poly1305) and its 32 derived bytes (lib/fleet/link_auth.hpp),
// and our gateway id, the sender of the frames we seal.
struct FleetLinkMsg {
    uint8_t method;
    uint8_t sender_len;  // 1..255 with a method
    uint8_t pad[6];
    uint8_t key[32];
    char sender[255];
};
static_assert(sizeof(FleetLinkMsg) == 40 + 255 && offsetof(FleetLinkMsg, key) == 8 &&
              offsetof(FleetLinkMsg, sender) == 40);

// Peer slot `peer` (< kMaxLinkPeers): the member `name` whose dataplane receives link frames at
// `endpoint`; name_len 0 empties the slot. A slot given to another name starts a new replay window.
struct LinkPeerMsg {
    uint16_t peer;
    uint8_t name_len;
    uint8_t pad;
    Endpoint endpoint;
    char name[255];
};
static_assert(sizeof(LinkPeerMsg) == 24 + 256 && // 1 byte of tail padding
              offsetof(LinkPeerMsg, endpoint) == 4 &&
              offsetof(LinkPeerMsg, name) == 24);

// The client `client_id` is online on the member in slot `peer` (kNoLinkPeer: it is not, or that
// member has no UDP link): Data for it that has no live endpoint here goes there.
struct RemoteHomeMsg {
    uint32_t client_id;
    uint16_t peer;
    uint16_t pad;
};
static_assert(sizeof(RemoteHomeMsg) == 8);

// TcpDeliverMsg.src_client of a frame that came over the fleet's link: deliver it here or drop it,
// never relay it to another gateway again (no loop between two gateways' views).
inline constexpr uint32_t kFromFleetLink = 0xfffffffeu;

// Frames carried whole (header + payload) in the body after a fixed part.
inline constexpr uint32_t kMaxFrameInSlot = kMaxBody - 32;  // 2008 bytes

struct TxFrameMsg {
    Endpoint to;          // destination UDP endpoint
    uint16_t frame_len;   // bytes of frame[]
    uint8_t pad[10];
    uint8_t frame[kMaxFrameInSlot];
};
static_assert(sizeof(TxFrameMsg) == 32 + kMaxFrameInSlot && offsetof(TxFrameMsg, frame_len) == 20 &&
              offsetof(TxFrameMsg, frame) == 32);

// A Data frame the control plane's TCP relay received for `dst_client`, which is online on
// another member of the fleet: the dataplane seals it in a link frame to that member's dataplane
// (its RemoteHomeSet slot), `dst_ip` the inner packet's destination (host order). Version 8.
struct LinkTxMsg {
    uint32_t dst_client;
    uint32_t dst_ip;
    uint16_t frame_len;
    uint8_t pad[22];
    uint8_t frame[kMaxFrameInSlot];  // exactly one Data frame
};
static_assert(sizeof(LinkTxMsg) == 32 + kMaxFrameInSlot && offsetof(LinkTxMsg, frame_len) == 8 &&
              offsetof(LinkTxMsg, frame) == 32);

struct PuntMsg {
    Endpoint from;          // source UDP endpoint of the datagram
    uint32_t client_hint;   // ClientId of the endpoint's session, or kNoClientHint
    uint16_t frame_len;
    uint8_t pad[6];
    uint8_t frame[kMaxFrameInSlot];
};
static_assert(sizeof(PuntMsg) == 32 + kMaxFrameInSlot && offsetof(PuntMsg, client_hint) == 20 &&
              offsetof(PuntMsg, frame_len) == 24 && offsetof(PuntMsg, frame) == 32);
inline constexpr uint32_t kNoClientHint = 0xffffffffu;

struct TcpDeliverMsg {
    uint32_t src_client;
    uint32_t dst_client;
    uint16_t frame_len;
    uint8_t pad[6];
    // The cp_epoch of the state whose client ids src/dst_client are: the control plane drops a
    // message from another epoch (its ids may name other clients after a reload or restart).
    uint64_t cp_epoch;
    uint8_t pad2[8];
    uint8_t frame[kMaxFrameInSlot];
};
static_assert(offsetof(TcpDeliverMsg, cp_epoch) == 16);
static_assert(sizeof(TcpDeliverMsg) == 32 + kMaxFrameInSlot && offsetof(TcpDeliverMsg, dst_client) == 4 &&
              offsetof(TcpDeliverMsg, frame_len) == 8 && offsetof(TcpDeliverMsg, frame) == 32);

static_assert(sizeof(ClusterSetMsg) <= kMaxBody && sizeof(TxFrameMsg) <= kMaxBody &&
              sizeof(PuntMsg) <= kMaxBody && sizeof(TcpDeliverMsg) <= kMaxBody);

}  // namespace rustun::shm
