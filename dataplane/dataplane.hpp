// rustun-dataplane: the process-wide runtime shared by the main lcore and the workers
// (docs/dataplane.md). Everything here is created before the workers start and destroyed after
// they stopped; fields written while they run are atomics with one writer each.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "capacities.hpp"
#include "config/config.hpp"
#include "crypto/crypto_engine.hpp"
#include "fleet/link_auth.hpp"
#include "fleet/link_replay.hpp"
#include "mac_cache.hpp"
#include "packet.hpp"
#include "proto/constants.hpp"  // kValidityWindowSeconds: a destination is live this long after rx
#include "shm/channel.hpp"
#include "shm/messages.hpp"
#include "state.hpp"

struct rte_mempool;
struct rte_ring;

namespace rustun::dp {

// Per source address (IPv6: per /64) rate limits (docs/dataplane.md): punts to the control plane
// and STUN replies. Token buckets: `rate` per second, bursts of `burst`.
inline constexpr uint64_t kPuntRate = 100, kPuntBurst = 64;
inline constexpr uint64_t kStunRate = 10, kStunBurst = 20;

// Per-source-address token buckets in a small direct-mapped table (one per worker): no
// allocation, no lock on the hot path; an address colliding with another takes its slot over (and
// starts with a full bucket). GCRA: one theoretical arrival time per bucket.
struct SourceLimiter {
    enum Kind : uint32_t { Punt = 0, Stun = 1 };
    static constexpr uint32_t kSlots = cap::kSourceLimiterSlots;  // power of two
    struct Slot {
        EndpointKey k{};  // family + address (IPv6: the /64), port 0; family 0 = unused
        uint64_t tat[2] = {};
    };
    std::unique_ptr<Slot[]> slots = std::make_unique<Slot[]>(kSlots);

    static EndpointKey source_key(const shm::Endpoint& from) {
        shm::Endpoint e = from;
        e.port = 0;
        if (e.family == 6) std::memset(e.addr + 8, 0, 8);
        return EndpointKey::from(e);
    }
    // `interval`: TSC cycles per token; `tolerance`: (burst - 1) * interval.
    bool allow(const EndpointKey& k, Kind kind, uint64_t now, uint64_t interval, uint64_t tolerance) {
        Slot& s = slots[endpoint_hash(k) & (kSlots - 1)];
        if (!(s.k == k)) {
            s.k = k;
            s.tat[0] = s.tat[1] = 0;
        }
        const uint64_t tat = s.tat[kind] > now ? s.tat[kind] : now;
        if (tat - now > tolerance) return false;
        s.tat[kind] = tat + interval;
        return true;
    }
};

struct Runtime;

struct alignas(64) Worker {
    uint32_t index = 0;
    uint16_t queue = 0;
    unsigned lcore = 0;
    Runtime* rt = nullptr;
    std::unique_ptr<CryptoEngine> engine;
    std::unique_ptr<uint8_t[]> scratch;  // cap::kMaxBurst * cap::kScratchPerItem, 64-byte aligned start
    shm::SpscRing* to_cp = nullptr;      // this worker's DpToCp ring: punts (producer side)
    shm::SpscRing* to_cp_deliver = nullptr;  // this worker's DpToCpDeliver ring: TcpDeliver
    std::atomic<uint64_t>* counters = nullptr;  // this worker's block in the channel (its only writer)
    rte_ring* to_kernel = nullptr;       // exception packets for the main lcore (SP/SC)
    MacCache macs;
    SourceLimiter limiter;
    uint16_t ip_id = 0;
    // The fleet's UDP link (docs/fleet.md, "UDP link through the dataplane"): this worker's tag
    // maker (an IPsec-MB manager of its own), its replay window per member slot (reset when the
    // slot's version changes) and the link sequences it reserved (Runtime::link_seq).
    std::unique_ptr<fleet::LinkAuth> link_auth;
    struct LinkWindow {
        uint32_t version = 0;
        fleet::LinkReplayWindow window;
    };
    std::unique_ptr<LinkWindow[]> link_windows;  // shm::kMaxLinkPeers
    uint64_t link_seq_next = 0, link_seq_end = 0;
    // A member's next-hop MAC (Runtime::mac_hint: a hash and a probe of every worker's cache) is
    // looked up once per burst that sends to it: `burst` is link_burst when `mac` is current.
    struct LinkMac {
        uint64_t burst = 0;
        uint64_t mac = 0;
    };
    std::unique_ptr<LinkMac[]> link_macs;  // shm::kMaxLinkPeers
    uint64_t link_burst = 0;               // bursts begun (link_seq_reset)
};

struct Runtime {
    DataplaneConfig cfg;
    uint16_t relay_port = 0;      // listen.udp port, host byte order
    uint16_t port_id = 0;         // uplink
    uint16_t tap_port = 0xffff;   // exception path (tap mode), else 0xffff
    bool ipv4_cksum_offload = false;
    uint16_t mtu = 1500;  // the uplink's IP MTU in bytes: a relayed packet longer than this is dropped
    OuterSource src{};
    rte_mempool* pool = nullptr;  // the uplink's: on its NUMA socket (port.cpp)
    std::vector<std::pair<int, rte_mempool*>> pools;  // (NUMA socket, pool): one per socket in use
    rte_ring* main_tx = nullptr;  // main lcore -> worker 0 -> uplink (SP/SC)
    std::unique_ptr<shm::Channel> channel;
    std::unique_ptr<StateManager> state;
    std::vector<std::unique_ptr<Worker>> workers;
    uint64_t tsc_hz = 0;
    uint64_t live_tsc = 0;
    uint64_t stall_tsc = ~uint64_t{0};  // 1 ms: a burst slower than this was descheduled (runtime counters)
    uint64_t punt_interval = 0, punt_tolerance = 0;  // SourceLimiter, TSC cycles
    uint64_t stun_interval = 0, stun_tolerance = 0;
    uint64_t first_sync_tsc = 0;  // TSC of the first SyncEnd applied (0: none yet)
    uint64_t port_stats_seen[4] = {};  // ethdev imissed, rx_nombuf, ierrors, oerrors already counted (main lcore)
    // net_af_packet only: the PMD's AF_PACKET sockets (found in our fd table at set-up), whose
    // PACKET_STATISTICS tp_drops the PMD does not report; read (and thereby reset) by the main lcore.
    std::vector<int> kernel_ring_fds;
    // net_tap ports (the uplink if it is one, the exception tap): the kernel's drops on the tap's
    // queue to the PMD show as the interface's tx_dropped; name and the value already counted.
    std::vector<std::pair<std::string, uint64_t>> kernel_tap_ifaces;

    // The fleet's UDP link: the nonce of a link frame is salt (random per process, top bit set:
    // the control plane's TCP link clears it, so the two never share a nonce) and a sequence
    // unique in this process, started at CLOCK_REALTIME ns; workers reserve kMaxBurst at a time.
    uint32_t link_salt = 0;
    std::unique_ptr<fleet::LinkAuth> main_link_auth;  // the main lcore's: LinkTx from the control plane
    alignas(64) std::atomic<uint64_t> link_seq{0};

    alignas(64) std::atomic<bool> stop{false};
    std::atomic<bool> rx_enabled{false};  // false until the first SyncEnd with --wait-sync
    std::atomic<bool> cp_alive{false};    // control-plane heartbeat younger than 1 s

    // Telemetry's view of the sessions, refreshed by the main lcore every second.
    std::mutex snap_mu;
    uint64_t snap_sessions = 0;
    uint64_t snap_clients = 0;
    uint64_t snap_gen = 0;
    std::vector<std::string> snap_list;  // "client <cp id> <addr>:<port>", at most 256

    // Main lcore only: adds `n` to counter `c` of its own block (workers add to theirs, per
    // burst; every block has one writer, so no atomic read-modify-write anywhere).
    void count_main(shm::DpCounter c, uint64_t n) {
        if (n) shm::add_owned(channel->main_counters()[static_cast<size_t>(c)], n);
    }
    uint64_t mac_hint(const EndpointKey& k) const;
};

// The worker loop (rte_eal_remote_launch entry point); `arg` is a Worker*.
int worker_main(void* arg);

// Main-lcore loop: control ring, TxFrames, exception path, heartbeat, idle stop. Returns when
// rt.stop is set (signal) or the idle limit is reached.
struct MainOptions {
    bool wait_sync = false;
    uint64_t stop_when_idle_ms = 0;  // 0 = never
    uint32_t punt_ring_slots = 0;    // 0 = the channel's default (tests use small rings)
};
void main_loop(Runtime& rt, const MainOptions& opt);

// Ports (port.cpp). Errors name the YAML key at fault.
Status setup_uplink(Runtime& rt);
Status setup_tap(Runtime& rt);
void register_telemetry(Runtime& rt);
// The kernel interface's tx_dropped (/proc/self/net/dev, our network namespace); false if absent.
bool kernel_tx_dropped(const std::string& iface, uint64_t& out);

// Builds a UDP datagram (outer headers + payload copy) in a fresh mbuf for the main lcore;
// nullptr when the pool is empty.
struct rte_mbuf* build_datagram(Runtime& rt, const shm::Endpoint& to, uint64_t mac,
                                const uint8_t* payload, uint32_t len);

}  // namespace rustun::dp
