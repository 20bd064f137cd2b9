// rustun-client: one epoll loop over the TUN device, the TCP relay session, the UDP sockets
// (P2P, UDP relay, STUN), a timerfd, a signalfd and the status endpoints. Behaviour:
// docs/client.md. Single-threaded; nothing on the packet path allocates.
//
// Client is the dispatcher: it owns the parts, routes epoll events and the 100 ms tick to them,
// moves packets between the TUN device and the paths (P2P first, then the UDP relay, then TCP)
// and turns what the gateway says into peer-table, route and TUN changes. Each part owns its
// sockets and state:
//   tcp_session     the TCP relay session (connect, handshake, KeepAlives, back-off)
//   udp_relay       the UDP relay leg (binding, cookies, counter nonces)
//   p2p             direct paths to peers (probes, validity, answers)
//   peer_table      the peers as the gateway describes them
//   public_address  what we advertise (fixed, command, STUN)
//   routes          kernel routes to the peers over rtnetlink
//   status_server   the Unix socket and HTTP status endpoints (non-blocking)
//   counters        the named counters (one X-macro table)
#pragma once

#include <cstdint>
#include <string>

#include "clock.hpp"
#include "counters.hpp"
#include "events.hpp"
#include "frame_sealer.hpp"
#include "options.hpp"
#include "p2p.hpp"
#include "peer_table.hpp"
#include "poller.hpp"
#include "public_address.hpp"
#include "routes.hpp"
#include "status_server.hpp"
#include "sys.hpp"
#include "tcp_session.hpp"
#include "udp_relay.hpp"

namespace rustun::client {

inline constexpr uint64_t kTickMs = 100;

class Client final : private TunWriter, private GatewayEvents, private AddressEvents, private StatusSource {
public:
    explicit Client(Options opts);
    ~Client() override;
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Keys, TUN, sockets, status endpoints. Errors are fatal at start-up.
    Status init();
    // Runs until SIGINT/SIGTERM; removes routes and the status socket before returning.
    int run();

private:
    Status open_signals_and_timer();
    void on_tun();
    void on_tick();
    void sync_routes();

    // TunWriter
    void write_tun(const uint8_t* pkt, size_t len) override;
    // GatewayEvents
    void on_handshake_reply(const HandshakeReply& r, const char* shape) override;
    void on_relay_data(const uint8_t* pkt, size_t len) override;
    void on_peer_details(const std::vector<PeerDetail>& list) override;
    void on_peer_update(const PeerUpdate& u) override;
    // AddressEvents
    void on_public_address_changed() override;
    // StatusSource
    std::string status_json() override;
    bool connected() const override { return tcp_.established(); }

    Options o_;
    SystemClock clock_;
    Poller poller_;
    FrameSealer sealer_;
    Counters ctr_;
    Tun tun_;
    int timer_fd_ = -1;
    int signal_fd_ = -1;
    bool running_ = true;
    uint64_t started_unix_ = 0;

    // The TUN address from the last HandshakeReply.
    // The --server index the UDP relay socket is connected to (its gateway's UDP relay).
    size_t relay_server_ = 0;

    bool tun_configured_ = false;
    uint32_t tun_addr_ = 0, tun_mask_ = 0;  // host order
    std::string gateway_text_;

    PeerTable peers_;
    PublicAddress address_;
    P2p p2p_;
    UdpRelay relay_;
    TcpSession tcp_;
    NetlinkRouteInstaller route_installer_;
    RouteSync routes_;
    StatusServer status_;
};

}  // namespace rustun::client
