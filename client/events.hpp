// What the client's parts tell the dispatcher (Client implements these): packets for the TUN
// device, what the gateway said, and changes of our advertised address. Parts never call each
// other directly except through these and the references they are constructed with.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "proto/messages.hpp"

namespace rustun::client {

// The TUN device: an IPv4 packet for the local host.
class TunWriter {
public:
    virtual ~TunWriter() = default;
    virtual void write_tun(const uint8_t* pkt, size_t len) = 0;
};

// The gateway's frames, from the TCP session or the UDP relay.
class GatewayEvents {
public:
    virtual ~GatewayEvents() = default;
    // The session is established; `shape` names the reply shape that parsed. The handler may
    // fail the session (an unusable address).
    virtual void on_handshake_reply(const HandshakeReply& r, const char* shape) = 0;
    // A relayed IPv4 packet (at least 20 bytes, version 4).
    virtual void on_relay_data(const uint8_t* pkt, size_t len) = 0;
    // A KeepAlive reply's peer details (add and update, never remove).
    virtual void on_peer_details(const std::vector<PeerDetail>& list) = 0;
    virtual void on_peer_update(const PeerUpdate& u) = 0;
};

// Our advertised P2P address changed (public_address.hpp).
class AddressEvents {
public:
    virtual ~AddressEvents() = default;
    virtual void on_public_address_changed() = 0;
};

// STUN responses, wherever they arrive (our own STUN socket or the shared P2P socket).
class StunDatagramSink {
public:
    virtual ~StunDatagramSink() = default;
    virtual void on_stun_datagram(const uint8_t* buf, size_t len) = 0;
};

}  // namespace rustun::client
