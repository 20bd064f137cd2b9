// rustun-client: one epoll loop over the TUN device, the TCP relay connection, the UDP sockets
// (P2P, UDP relay, STUN), a timerfd, a signalfd and the status endpoints. Behaviour:
// docs/client.md. Single-threaded; nothing on the packet path allocates.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "config/address.hpp"
#include "crypto/cipher_key.hpp"
#include "crypto/crypto_engine.hpp"
#include "options.hpp"
#include "proto/frame.hpp"
#include "proto/messages.hpp"
#include "proto/reassembler.hpp"
#include "sys.hpp"

namespace rustun::client {

// A P2P path is valid while a packet from the peer arrived within this window (seed protocol).
inline constexpr uint64_t kP2pValidMs = 15000;
inline constexpr uint64_t kP2pProbeIntervalMs = 10000;
inline constexpr uint64_t kProbeAnswerMinGapMs = 1000;
// The UDP relay is used while a UDP KeepAlive reply arrived within this window.
inline constexpr uint64_t kUdpRelayValidMs = 15000;

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
    uint32_t private_ip = 0;
    std::vector<std::string> cider_texts;
    std::vector<Ipv4Cidr> ciders;
    // As advertised by the gateway (HandshakeReply, KeepAlive reply, PeerUpdate).
    std::string adv_ip;
    uint16_t adv_port = 0;
    uint64_t gw_last_active = 0;  // gateway's last_active (Unix s), 0 = offline / unknown
    // P2P state.
    bool has_addr = false;
    sockaddr_in6 addr{};         // the address we send to (advertised, or learned from a probe)
    uint64_t last_rx_ms = 0;     // monotonic ms of the last authenticated packet from addr; 0 = never
    uint64_t last_rx_unix = 0;   // same, Unix s (status)
    uint64_t last_answer_ms = 0; // last probe answer we sent
    bool was_valid = false;      // path state at the previous check (transition logging)
    PathCounters p2p, relay;
};

class Client {
public:
    explicit Client(Options opts);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Keys, TUN, sockets, status endpoints. Errors are fatal at start-up.
    Status init();
    // Runs until SIGINT/SIGTERM; removes routes and the status socket before returning.
    int run();

private:
    enum class TcpState : uint8_t { Backoff, Connecting, Handshaking, Established };

    // ---- time ----
    static uint64_t mono_ms();
    static uint64_t unix_s();
    static uint64_t unix_us();

    // ---- event handlers ----
    void on_tun();
    void on_tcp(uint32_t events);
    void on_p2p();
    void on_relay_udp();
    void on_stun_socket();
    void on_tick();
    void on_status_unix();
    void on_http_listen();
    void on_http_conn(size_t idx, uint32_t events);

    // ---- TCP relay session ----
    void start_connect();
    void tcp_fail(const char* why);
    void tcp_connected();
    bool tcp_flush();
    void tcp_update_epoll();
    bool tcp_send_frame(FrameType type, const uint8_t* plain, size_t len);
    size_t seal_into(uint8_t* frame, size_t need, FrameType type, const uint8_t* plain, size_t len,
                     const uint8_t* nonce = nullptr);
    void handle_tcp_frame(uint8_t type, uint8_t* payload, size_t len);
    void send_keepalive();
    void apply_handshake_reply(const HandshakeReply& r);
    void apply_peer_list(const std::vector<PeerDetail>& list, bool authoritative);
    void apply_peer_update(const PeerUpdate& u);

    // ---- data path ----
    Peer* peer_for_ip(uint32_t ip);
    void write_tun(const uint8_t* pkt, size_t len);
    bool path_valid(const Peer& p, uint64_t now) const;
    bool udp_relay_ok(uint64_t now) const;

    // ---- P2P ----
    void probe(Peer& p, uint64_t now);
    void probe_all(uint64_t now);
    void set_peer_advertised(Peer& p, const std::string& ip, uint16_t port, bool force_reset, const char* why);
    bool udp_send_frame(int fd, int family, FrameType type, const uint8_t* plain, size_t len, const sockaddr_in6* to);

    // ---- UDP relay ----
    Status open_relay_socket();
    void send_udp_keepalive();

    // ---- public address ----
    void start_address_check();
    void set_public_address(const std::string& ip, uint16_t port, const char* source);
    void rebuild_keepalive_body();

    // ---- routes ----
    void sync_routes();
    void remove_routes();

    // ---- status ----
    std::string status_json();
    void serve_blocking(int fd, const std::string& data);
    void epoll_add(int fd, uint64_t tag, uint32_t events);
    void epoll_mod(int fd, uint64_t tag, uint32_t events);

    Options o_;
    std::unique_ptr<CipherKey> key_;
    std::unique_ptr<CryptoEngine> engine_;
    Tun tun_;
    int ep_ = -1;
    int timer_fd_ = -1;
    int signal_fd_ = -1;
    bool running_ = true;
    uint64_t started_unix_ = 0;

    // TUN
    bool tun_configured_ = false;
    uint32_t tun_addr_ = 0, tun_mask_ = 0;
    std::string gateway_text_;
    std::vector<uint8_t> tun_buf_;   // [header 8][prefix][packet][tag]
    std::vector<uint8_t> rx_buf_;    // UDP datagrams

    // TCP
    TcpState tcp_state_ = TcpState::Backoff;
    int tcp_fd_ = -1;
    uint32_t tcp_events_ = 0;
    Reassembler reasm_;
    std::vector<uint8_t> out_;       // output buffer [out_head_, out_tail_)
    size_t out_head_ = 0, out_tail_ = 0;
    uint64_t next_connect_ms_ = 0;
    uint64_t state_deadline_ms_ = 0;
    uint64_t backoff_ms_ = 1000;
    uint64_t last_rx_ms_ = 0;
    uint64_t next_ka_ms_ = 0;
    uint64_t connected_since_unix_ = 0;
    uint64_t connects_ = 0;          // successful handshakes
    std::string server_peer_text_;   // resolved address
    std::string last_error_;

    // P2P
    int p2p_fd_ = -1;
    int p2p_family_ = AF_INET6;
    uint64_t next_probe_ms_ = 0;
    std::vector<Peer> peers_;

    // UDP relay
    int relay_fd_ = -1;
    int relay_family_ = AF_INET;
    std::string relay_text_;
    uint64_t last_seq_ = 0;
    uint64_t next_udp_ka_ms_ = 0;
    uint64_t udp_last_reply_ms_ = 0;
    bool udp_was_ok_ = false;
    // Return routability (docs/protocol-extensions.md): the gateway's last cookie, echoed in
    // the next UDP KeepAlive; the relay is used only after a reply without a cookie (bound).
    std::string udp_cookie_;
    // Data replay protection (AEAD clusters): relayed Data nonces are salt (4 random bytes) ||
    // counter (8 bytes big-endian), the counter starting at the Unix time in ns.
    uint8_t nonce_salt_[4] = {};
    uint64_t data_ctr_ = 0;

    // Public address
    std::string pub_ip_;
    uint16_t pub_port_ = 0;
    std::string ka_body_;            // old-shape KeepAlive {identity, ipv6, port}
    uint64_t next_addr_check_ms_ = 0;
    int stun_fd_ = -1;               // == p2p_fd_ when P2P is on
    bool stun_own_fd_ = false;
    sockaddr_storage stun_addr_{};
    socklen_t stun_addr_len_ = 0;
    uint8_t stun_txid_[12] = {};
    int stun_tries_left_ = -1;     // > 0: requests left to send; 0: waiting for the last; -1: idle
    uint64_t stun_next_try_ms_ = 0;

    // Routes
    std::set<std::string> routes_;

    // Status
    int status_fd_ = -1;
    int http_fd_ = -1;
    struct HttpConn {
        int fd = -1;
        uint64_t opened_ms = 0;
        std::string req;
    };
    std::vector<HttpConn> http_conns_;

    // Counters
    struct {
        uint64_t tun_rx = 0, tun_tx = 0, tun_write_errors = 0;
        uint64_t tcp_data_tx = 0, tcp_data_rx = 0, tcp_out_full = 0;
        uint64_t udp_relay_data_tx = 0, udp_relay_data_rx = 0;
        uint64_t no_path_drops = 0;
        uint64_t p2p_probes_tx = 0, p2p_probes_rx = 0, p2p_answers_tx = 0;
        uint64_t p2p_bad = 0, p2p_spoofed = 0, p2p_unknown = 0;
        uint64_t keepalive_tx = 0, keepalive_rx = 0, peer_updates_rx = 0;
        uint64_t udp_keepalive_tx = 0, udp_keepalive_rx = 0, udp_challenges_rx = 0;
    } c_;
};

}  // namespace rustun::client
