// The relay session with the gateway over TCP (docs/client.md, "Relay session"): connect (bounded
// by kConnectTimeoutMs), a dbde974-dialect Handshake, the HandshakeReply (bounded by
// kHandshakeTimeoutMs), KeepAlives every interval, liveness (any inbound frame; silence for
// (threshold - 1) x interval fails the session) and reconnects with back-off 1 s doubling to
// kBackoffMaxMs, reset by a successful handshake. With several server addresses (--server in
// failover order) every failure - a refused or timed-out connect, a lost session, KeepAlive
// silence - moves to the next address (server_failovers); the back-off doubles only when a whole
// round of addresses has failed, so after a lost session each address is tried once per back-off
// step. The session stays on the address that works (no return to the first). Frames towards the gateway go through a
// kOutBufBytes output buffer; when it is full a frame is dropped (tcp_out_full), never queued
// without bound.
//
// States: Backoff -> Connecting -> Handshaking -> Established; any failure -> Backoff.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "clock.hpp"
#include "counters.hpp"
#include "events.hpp"
#include "frame_sealer.hpp"
#include "options.hpp"
#include "poller.hpp"
#include "proto/constants.hpp"
#include "proto/reassembler.hpp"
#include "public_address.hpp"

namespace rustun {
class JsonWriter;
}

namespace rustun::client {

inline constexpr size_t kOutBufBytes = 1 << 20;
inline constexpr uint64_t kConnectTimeoutMs = 10000;
inline constexpr uint64_t kHandshakeTimeoutMs = 20000;
inline constexpr uint64_t kBackoffStartMs = 1000;
inline constexpr uint64_t kBackoffMaxMs = 30000;

enum class TcpState : uint8_t { Backoff, Connecting, Handshaking, Established };
const char* tcp_state_name(TcpState s);

struct TcpSessionConfig {
    std::vector<ServerAddress> servers;  // failover order, at least one; resolved at each connect
    std::string identity;
    uint64_t keepalive_interval_ms = kKeepAliveIntervalMs;
    uint32_t keepalive_threshold = 5;
};

class TcpSession {
public:
    TcpSession(TcpSessionConfig cfg, const Clock& clock, Poller& poller, FrameSealer& sealer, Counters& ctr,
               const AdvertisedAddress& self, GatewayEvents& events);
    ~TcpSession();
    TcpSession(const TcpSession&) = delete;
    TcpSession& operator=(const TcpSession&) = delete;

    TcpState state() const { return state_; }
    bool established() const { return state_ == TcpState::Established; }
    int fd() const { return fd_; }
    // Monotonic ms of the next connect attempt (in Backoff).
    uint64_t next_connect_ms() const { return next_connect_ms_; }
    uint64_t backoff_ms() const { return backoff_ms_; }
    // The address in use (connecting to, or connected to) and how often the session moved on.
    size_t server_index() const { return current_; }
    const ServerAddress& server() const { return cfg_.servers[current_]; }
    uint64_t failovers() const { return failovers_; }

    // Readiness of the socket.
    void on_events(uint32_t events);
    // Connects when due, enforces the deadlines and liveness, sends KeepAlives when due.
    void tick(uint64_t now_ms);
    // Closes the connection and schedules a reconnect after the back-off.
    void fail(const char* why);

    // Seals a frame into the output buffer and flushes. False: not connected, buffer full (frame
    // dropped, counted) or the connection failed.
    bool send_frame(FrameType type, const uint8_t* plain, size_t len, const uint8_t* nonce = nullptr);
    // A KeepAlive now (our address changed); the next one an interval later.
    void send_keepalive_now();

    // The status document's "server" object members.
    void write_status_members(JsonWriter& w, uint64_t now_ms) const;

private:
    void start_connect();
    void connected();
    bool flush();
    void update_epoll();
    void send_keepalive();
    void read_frames();
    void handle_frame(uint8_t type, uint8_t* payload, size_t len);
    void handle_handshake_reply(std::string_view body);

    TcpSessionConfig cfg_;
    const Clock& clock_;
    Poller& poller_;
    FrameSealer& sealer_;
    Counters& ctr_;
    const AdvertisedAddress& self_;
    GatewayEvents& events_;

    TcpState state_ = TcpState::Backoff;
    int fd_ = -1;
    uint32_t epoll_events_ = 0;
    Reassembler reasm_;
    std::vector<uint8_t> out_;  // output buffer; pending bytes are [out_head_, out_tail_)
    size_t out_head_ = 0, out_tail_ = 0;
    uint64_t next_connect_ms_ = 0;
    uint64_t state_deadline_ms_ = 0;
    uint64_t backoff_ms_ = kBackoffStartMs;
    uint64_t last_rx_ms_ = 0;
    uint64_t next_keepalive_ms_ = 0;
    uint64_t connected_since_unix_ = 0;
    uint64_t connects_ = 0;        // successful handshakes
    size_t current_ = 0;           // index into cfg_.servers
    size_t round_first_ = 0;       // where the current round of failed attempts began
    uint64_t failovers_ = 0;       // moves to another address
    std::string peer_text_;        // resolved address
    std::string last_error_;
};

}  // namespace rustun::client
