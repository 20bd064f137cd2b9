// The client's named counters: one X-macro table (name, meaning), in the style of the gateway's
// tables (lib/shm/dp_counters.hpp, controlplane/counters.hpp). The status document's "counters"
// object lists them in this order under these names. Single-threaded: plain integers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace rustun {
class JsonWriter;
}

namespace rustun::client {

#define RUSTUN_CLIENT_COUNTERS(X)                                                                   \
    X(tun_rx, "IPv4 packets read from the TUN device")                                             \
    X(tun_tx, "packets written to the TUN device")                                                 \
    X(tun_write_errors, "packets the TUN device refused")                                          \
    X(tcp_data_tx, "Data frames sent to the gateway over TCP")                                     \
    X(tcp_data_rx, "IPv4 Data frames received from the gateway over TCP")                          \
    X(tcp_out_full, "frames dropped: the 1 MiB TCP output buffer was full")                       \
    X(udp_relay_data_tx, "Data frames sent to the gateway's UDP relay")                            \
    X(udp_relay_data_rx, "IPv4 Data frames received from the gateway's UDP relay")                \
    X(no_path_drops, "TUN packets dropped: no valid P2P path and no relay session")                \
    X(keepalive_tx, "KeepAlives sent to the gateway over TCP")                                     \
    X(keepalive_rx, "KeepAlive replies received over TCP")                                         \
    X(server_failovers, "connect attempts moved to the next --server address after a failure")     \
    X(peer_updates_rx, "PeerUpdate frames received")                                               \
    X(udp_keepalive_tx, "KeepAlives sent to the UDP relay")                                        \
    X(udp_keepalive_rx, "KeepAlive replies received from the UDP relay (challenges included)")    \
    X(udp_challenges_rx, "UDP KeepAlive replies carrying a return-routability cookie")             \
    X(p2p_probes_tx, "P2P probes (KeepAlive frames) sent to peers")                                \
    X(p2p_probes_rx, "P2P probes received")                                                        \
    X(p2p_answers_tx, "P2P probes answered")                                                       \
    X(p2p_bad, "P2P datagrams dropped: bad header, failed authentication, bad body or type")      \
    X(p2p_spoofed, "P2P Data dropped: a peer's address sent another peer's inner source")         \
    X(p2p_unknown, "P2P datagrams dropped: inner source or probe identity of no known peer")

enum class Ctr : uint8_t {
#define X(name, help) name,
    RUSTUN_CLIENT_COUNTERS(X)
#undef X
        kCount
};
inline constexpr size_t kCtrCount = static_cast<size_t>(Ctr::kCount);

struct CtrInfo {
    const char* name;
    const char* help;
};
inline constexpr CtrInfo kCtrInfo[] = {
#define X(name, help) {#name, help},
    RUSTUN_CLIENT_COUNTERS(X)
#undef X
};
static_assert(sizeof kCtrInfo / sizeof kCtrInfo[0] == kCtrCount);

class Counters {
public:
    void inc(Ctr c, uint64_t n = 1) { v_[static_cast<size_t>(c)] += n; }
    uint64_t get(Ctr c) const { return v_[static_cast<size_t>(c)]; }

    // Writes every counter as a member "name": value, in table order, into the open object.
    void write_members(JsonWriter& w) const;

private:
    std::array<uint64_t, kCtrCount> v_{};
};

}  // namespace rustun::client
