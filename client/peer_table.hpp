// The peers of our cluster as the gateway describes them (HandshakeReply, KeepAlive replies,
// PeerUpdate), with each peer's P2P path state and traffic counters. Lookups by identity, by
// inner IPv4 address (private IP, else the longest matching CIDR) and by P2P address.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/address.hpp"
#include "proto/messages.hpp"

namespace rustun::client {

struct PathCounters {
    uint64_t rx_packets = 0;
    uint64_t tx_packets = 0;
    uint64_t rx_bytes = 0;
    uint64_t tx_bytes = 0;
};

struct Peer {
    std::string identity;
    std::string name;
    std::string private_ip_text;
    uint32_t private_ip = 0;  // host order
    std::vector<std::string> cider_texts;
    std::vector<Ipv4Cidr> ciders;
    // As advertised by the gateway (HandshakeReply, KeepAlive reply, PeerUpdate).
    std::string adv_ip;
    uint16_t adv_port = 0;
    uint64_t gw_last_active = 0;  // gateway's last_active (Unix s), 0 = offline / unknown
    // P2P state (p2p.hpp).
    bool has_addr = false;
    sockaddr_in6 addr{};         // the address we send to (advertised, or learned from a probe)
    uint64_t last_rx_ms = 0;     // monotonic ms of the last authenticated packet from addr; 0 = never
    uint64_t last_rx_unix = 0;   // same, Unix s (status)
    uint64_t last_answer_ms = 0; // monotonic ms of the last probe answer we sent
    bool was_valid = false;      // path state at the previous check (transition logging)
    PathCounters p2p, relay;
};

// Receives advertised P2P addresses while the table is updated (P2p decides what they change).
class PeerAddressSink {
public:
    virtual ~PeerAddressSink() = default;
    // force_reset: a PeerUpdate or a changed address (the path starts over unless it is the
    // address we already have); `why` names the event for the log.
    virtual void set_advertised(Peer& p, const std::string& ip, uint16_t port, bool force_reset, const char* why) = 0;
};

class PeerTable {
public:
    explicit PeerTable(std::string own_identity) : own_identity_(std::move(own_identity)) {}

    std::vector<Peer>& peers() { return peers_; }
    const std::vector<Peer>& peers() const { return peers_; }

    Peer* find(std::string_view identity);
    // The peer owning inner address `ip` (host order): its private IP, else the longest CIDR.
    Peer* for_ip(uint32_t ip);
    // The peer whose P2P address is `a`.
    Peer* at_address(const sockaddr_in6& a);

    // authoritative (HandshakeReply): the list replaces the table (peers missing from it are
    // dropped, state kept for those that stay); otherwise (KeepAlive reply) peers are added and
    // updated, never removed. Our own identity and entries without a valid private IP are
    // skipped. True when the routes must be synchronised (always after an authoritative list).
    bool apply_list(const std::vector<PeerDetail>& list, bool authoritative, PeerAddressSink& sink);
    // A PeerUpdate: the named peer's advertised address (an empty one clears it).
    void apply_update(const PeerUpdate& u, PeerAddressSink& sink);

private:
    std::string own_identity_;
    std::vector<Peer> peers_;
};

}  // namespace rustun::client
