// Direct UDP paths to peers (--enable-p2p, docs/client.md, "P2P"): one dual-stack UDP socket,
// KeepAlive frames as probes, Data frames for packets. A peer's path is valid while an
// authenticated packet from its address arrived within kP2pValidMs; a probe is answered only
// while our own path to that peer was not valid and at most once per kProbeAnswerMinGapMs, so
// two clients never bounce answers forever.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <vector>

#include "clock.hpp"
#include "counters.hpp"
#include "events.hpp"
#include "frame_sealer.hpp"
#include "peer_table.hpp"
#include "poller.hpp"
#include "proto/constants.hpp"
#include "public_address.hpp"

namespace rustun {
class JsonWriter;
}

namespace rustun::client {

// The protocol's validity window and keep-alive period (proto/constants.hpp).
inline constexpr uint64_t kP2pValidMs = kValidityWindowMs;            // path validity window
inline constexpr uint64_t kP2pProbeIntervalMs = kKeepAliveIntervalMs;  // probe round period
inline constexpr uint64_t kProbeAnswerMinGapMs = 1000;  // per peer

class P2p final : public PeerAddressSink {
public:
    // `enabled` false: no socket; advertised addresses are still recorded for the status.
    P2p(bool enabled, std::string own_identity, const Clock& clock, FrameSealer& sealer, PeerTable& peers,
        Counters& ctr, const AdvertisedAddress& self, TunWriter& tun);
    ~P2p() override;
    P2p(const P2p&) = delete;
    P2p& operator=(const P2p&) = delete;

    // Binds [::]:port (dual-stack), IPv4 0.0.0.0:port when the host has no IPv6; port 0 picks one.
    Status open(uint16_t port, Poller& poller);
    bool enabled() const { return enabled_; }
    int fd() const { return fd_; }
    int family() const { return family_; }
    uint16_t bound_port() const;
    // STUN shares the P2P socket: its responses go to `sink`.
    void share_with_stun(StunDatagramSink* sink) { stun_ = sink; }

    bool path_valid(const Peer& p, uint64_t now_ms) const;
    // Seals `pkt` as Data to the peer's P2P address (counted in p.p2p); false if not sent.
    bool send_data(Peer& p, const uint8_t* pkt, size_t len);
    void probe(Peer& p);
    void probe_all(uint64_t now_ms);

    void on_readable();
    // One received datagram from `from` (also what on_readable calls; tests feed it directly).
    void handle_datagram(uint8_t* buf, size_t len, const sockaddr_storage& from);
    // Probe round when due; logs path transitions.
    void tick(uint64_t now_ms);

    void set_advertised(Peer& p, const std::string& ip, uint16_t port, bool force_reset, const char* why) override;

    // The status document's "peers" array.
    void write_peers(JsonWriter& w, uint64_t now_ms) const;

private:
    bool send_frame(FrameType type, const uint8_t* plain, size_t len, const sockaddr_in6& to);
    void handle_data(const uint8_t* pt, size_t len, const sockaddr_in6& src, uint64_t now_ms);
    void handle_probe(const uint8_t* pt, size_t len, const sockaddr_in6& src, const sockaddr_storage& from,
                      uint64_t now_ms);

    bool enabled_;
    std::string own_identity_;
    const Clock& clock_;
    FrameSealer& sealer_;
    PeerTable& peers_;
    Counters& ctr_;
    const AdvertisedAddress& self_;
    TunWriter& tun_;
    StunDatagramSink* stun_ = nullptr;
    int fd_ = -1;
    int family_ = AF_INET6;
    uint64_t next_probe_ms_ = 0;
    std::vector<uint8_t> rx_buf_;
};

}  // namespace rustun::client
