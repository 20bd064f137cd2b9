// The UDP relay leg (--relay udp, docs/client.md, "UDP relay"): one UDP socket connected to the
// gateway's dataplane. A KeepAlive with "seq" (Unix µs, strictly increasing) binds our endpoint;
// a reply carrying a return-routability cookie is a challenge, echoed at once; only a reply
// without a cookie counts as bound. The relay is used while such a reply arrived within
// kUdpRelayValidMs; KeepAlives go every interval while bound, every kUdpRebindMs otherwise.
// Relayed Data (AEAD clusters) uses counter nonces: a random 4-byte salt per run || a 64-bit
// big-endian counter starting at the Unix time in ns (replay protection,
// docs/protocol-extensions.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "clock.hpp"
#include "counters.hpp"
#include "events.hpp"
#include "frame_sealer.hpp"
#include "poller.hpp"
#include "proto/constants.hpp"
#include "public_address.hpp"

namespace rustun {
class JsonWriter;
}

namespace rustun::client {

// Bound while a plain reply is this recent: the protocol's validity window (proto/constants.hpp).
inline constexpr uint64_t kUdpRelayValidMs = kValidityWindowMs;
inline constexpr uint64_t kUdpRebindMs = 2000;       // KeepAlive period while unbound (at most)

class UdpRelay {
public:
    UdpRelay(std::string identity, uint64_t keepalive_interval_ms, const Clock& clock, FrameSealer& sealer,
             Counters& ctr, const AdvertisedAddress& self, GatewayEvents& events);
    ~UdpRelay();
    UdpRelay(const UdpRelay&) = delete;
    UdpRelay& operator=(const UdpRelay&) = delete;

    // Resolves and connects the socket, seeds the nonce salt and counter.
    Status open(const std::string& host, uint16_t port, Poller& poller);
    // The session failed over to another gateway: a new socket connected to that gateway's UDP
    // relay, unbound (no cookie, no reply yet) until it answers; a fresh nonce salt and counter.
    Status retarget(const std::string& host, uint16_t port, Poller& poller);
    bool active() const { return fd_ >= 0; }
    int fd() const { return fd_; }
    bool bound(uint64_t now_ms) const;

    // Seals `pkt` as relayed Data (counter nonce under AEAD) and sends it; false if not sent.
    bool send_data(const uint8_t* pkt, size_t len);
    void send_keepalive();
    // The next KeepAlive goes at the next tick (after each handshake).
    void keepalive_now(uint64_t now_ms) { next_keepalive_ms_ = now_ms; }

    void on_readable();
    // One received datagram (what on_readable calls; tests feed it directly).
    void handle_datagram(uint8_t* buf, size_t len);
    // KeepAlives when due (only while the TCP session is established); logs bound/unbound
    // transitions.
    void tick(uint64_t now_ms, bool session_established);

    // The status document's "relay" members after "mode".
    void write_status_members(JsonWriter& w, uint64_t now_ms) const;
    const std::string& cookie() const { return cookie_; }
    uint64_t data_counter() const { return data_ctr_; }

private:
    std::string identity_;
    uint64_t interval_ms_;
    const Clock& clock_;
    FrameSealer& sealer_;
    Counters& ctr_;
    const AdvertisedAddress& self_;
    GatewayEvents& events_;
    int fd_ = -1;
    std::string text_;  // resolved endpoint, for logs and status
    uint64_t last_seq_ = 0;
    uint64_t next_keepalive_ms_ = 0;
    uint64_t last_reply_ms_ = 0;  // last reply without a cookie; 0 = never
    bool was_bound_ = false;
    // The gateway's last cookie, echoed in the next KeepAlive; cleared by a plain reply.
    std::string cookie_;
    uint8_t nonce_salt_[4] = {};
    uint64_t data_ctr_ = 0;
    std::vector<uint8_t> rx_buf_;
};

}  // namespace rustun::client
