// Our advertised P2P address (docs/client.md, "Public address"): from one source — fixed
// (--public-addr), a command (--public-addr-cmd, re-run every --address-check-interval) or STUN
// (--public-addr-stun: a Binding Request, 3 tries kStunRetryMs apart, re-checked likewise) —
// and the KeepAlive body {identity, ipv6, port} that carries it to the gateway and to peers.
// Without P2P or without a source nothing is advertised (ipv6 "", port 0).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "clock.hpp"
#include "events.hpp"
#include "options.hpp"
#include "poller.hpp"

namespace rustun {
class JsonWriter;
}

namespace rustun::client {

inline constexpr int kStunTries = 3;
inline constexpr uint64_t kStunRetryMs = 1000;
inline constexpr int kAddressCommandTimeoutS = 5;

struct AdvertisedAddress {
    std::string ip;              // IP literal, "" = none
    uint16_t port = 0;           // 0 when ip is empty
    std::string keepalive_body;  // old-shape KeepAlive {identity, ipv6, port}
};

class PublicAddress final : public StunDatagramSink {
public:
    PublicAddress(const Options& o, const Clock& clock, AddressEvents& events);
    ~PublicAddress() override;
    PublicAddress(const PublicAddress&) = delete;
    PublicAddress& operator=(const PublicAddress&) = delete;

    // STUN: resolves the server and uses the P2P socket (p2p_fd >= 0; its responses then arrive
    // through on_stun_datagram) or a socket of its own registered with `poller`. Then the first
    // check.
    Status open(int p2p_fd, int p2p_family, Poller& poller);

    const AdvertisedAddress& current() const { return cur_; }
    // Records a new address (logs, rebuilds the KeepAlive body, tells AddressEvents); nothing
    // when it is the current one.
    void set(const std::string& ip, uint16_t port, const char* source);

    // Starts a check of the configured source (the command runs here, bounded by
    // kAddressCommandTimeoutS; STUN starts its tries).
    void start_check(uint64_t now_ms);
    // Re-checks when due; sends STUN requests and gives up after the last one.
    void tick(uint64_t now_ms);
    void on_stun_readable();                               // own STUN socket
    void on_stun_datagram(const uint8_t* buf, size_t len) override;  // any STUN response
    bool stun_in_progress() const { return stun_tries_left_ >= 0; }
    int stun_fd() const { return stun_fd_; }

    // The status document's "address_source" and "public_address" members.
    void write_status_members(JsonWriter& w) const;

private:
    void rebuild_keepalive_body();
    void send_stun_request();

    const Options& o_;
    const Clock& clock_;
    AddressEvents& events_;
    AdvertisedAddress cur_;
    uint64_t next_check_ms_ = 0;
    int stun_fd_ = -1;  // == the P2P socket when P2P is on
    bool stun_own_fd_ = false;
    int p2p_family_ = AF_INET6;
    sockaddr_storage stun_addr_{};
    socklen_t stun_addr_len_ = 0;
    uint8_t stun_txid_[12] = {};
    int stun_tries_left_ = -1;  // > 0: requests left to send; 0: waiting for the last; -1: idle
    uint64_t stun_next_try_ms_ = 0;
};

}  // namespace rustun::client
