// rustun-cp-bench: the client side of many TCP sessions on one epoll set (connect, Handshake,
// control frames, frame walking without decryption).
#pragma once

#include "common.hpp"
#include "gateway.hpp"

namespace rustun::cpbench {

// ---- connections ------------------------------------------------------------------------------

// Walks frame headers of a byte stream without decrypting; reports each complete frame's type.
struct FrameWalker {
    uint8_t hdr[kFrameHeaderSize];
    uint8_t have = 0;
    uint32_t left = 0;  // payload bytes of the current frame still to come
    uint8_t type = 0;
    bool in_payload = false;

    // Returns false on a framing error.
    template <class F>
    bool feed(const uint8_t* p, size_t n, F&& on_frame) {
        while (n) {
            if (!in_payload) {
                // Fast path: a whole header in the buffer.
                if (have == 0 && n >= kFrameHeaderSize) {
                    FrameHeader h;
                    if (decode_header(std::span<const uint8_t>(p, n), h) != HeaderStatus::Ok) return false;
                    p += kFrameHeaderSize;
                    n -= kFrameHeaderSize;
                    type = h.type;
                    left = h.payload_length;
                } else {
                    size_t take = std::min<size_t>(kFrameHeaderSize - have, n);
                    std::memcpy(hdr + have, p, take);
                    have = static_cast<uint8_t>(have + take);
                    p += take;
                    n -= take;
                    if (have < kFrameHeaderSize) return true;
                    FrameHeader h;
                    if (decode_header(std::span<const uint8_t>(hdr, kFrameHeaderSize), h) != HeaderStatus::Ok) return false;
                    have = 0;
                    type = h.type;
                    left = h.payload_length;
                }
                in_payload = true;
            }
            size_t take = std::min<size_t>(left, n);
            left -= static_cast<uint32_t>(take);
            p += take;
            n -= take;
            if (left == 0) {
                in_payload = false;
                on_frame(type);
            }
        }
        return true;
    }
};

enum class St : uint8_t { Free, Connecting, HsSent, Up };

struct Conn {
    int fd = -1;
    uint32_t ident = 0;
    St st = St::Free;
    uint8_t retries = 0;
    bool want_out = false;
    FrameWalker walker;
    std::string out;  // control frames not yet written
    size_t out_off = 0;
    uint64_t t_start = 0;
    uint64_t next_ka = 0;
    uint64_t rx_bytes = 0;
    uint64_t rx_data = 0;
    uint32_t rx_peer_update = 0;
    bool to_receiver_gw = false;  // connect to Setup::receiver_gw (when set) instead of Setup::gw
};

constexpr size_t kPerSourceIp = 20000;

class Net {
public:
    Net(Setup& s) : s_(s) {
        epfd_ = epoll_create1(EPOLL_CLOEXEC);
        if (epfd_ < 0) die("epoll_create1: %s", strerror(errno));
        auto e = CryptoEngine::create();
        if (!e) die("crypto engine: %s", e.error().c_str());
        engine_ = std::move(e.value());
        rxbuf_.resize(1 << 20);
    }
    ~Net() {
        for (auto& c : conns) close_conn(c);
        ::close(epfd_);
    }

    std::vector<Conn> conns;
    uint64_t failures = 0;
    std::string last_error;
    int last_errno = 0;
    // Called when a connection's HandshakeReply arrives.
    std::function<void(Conn&)> on_up;
    std::function<void()> on_tick;  // establish(): after every poll (e.g. KeepAlives of the connections up)
    // Called for each complete frame on an established connection (type byte).
    std::function<void(Conn&, uint8_t)> on_frame;
    bool old_dialect = false;
    // Handshakes: the nonce carries the key's hint tag (as our client's); each identity connects
    // from its own source address 127.1.0.0 + index (a reconnect comes from where it came before).
    bool key_hint = false;
    bool source_per_identity = false;
    bool count_only = false;  // relay: established connections only count bytes/frames

    // Seals `body` as a `type` frame with the connection's key and appends it to `out`.
    void seal_into(const CipherKey& key, FrameType type, std::string_view body, std::string& out, bool hinted = false) {
        uint8_t buf[kMaxFrameSize];
        uint32_t len = 0;
        uint8_t nonce[12];
        const std::optional<uint32_t> tag = hinted ? key_hint_tag(key.spec()) : std::nullopt;
        if (tag) key_hint_nonce(*tag, nonce);
        CryptoStatus st = engine_->seal(key, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(body.data()), body.size()),
                                        std::span<uint8_t>(buf + kFrameHeaderSize, kMaxPayloadSize), len,
                                        tag ? nonce : nullptr);
        if (st != CryptoStatus::Ok || !encode_header(type, len, std::span<uint8_t>(buf, kFrameHeaderSize)))
            die("cannot seal a %zu-byte frame", body.size());
        out.append(reinterpret_cast<const char*>(buf), kFrameHeaderSize + len);
    }
    std::vector<uint8_t> seal_frame(const CipherKey& key, FrameType type, std::string_view body) {
        std::string s;
        seal_into(key, type, body, s);
        return std::vector<uint8_t>(s.begin(), s.end());
    }
    CryptoEngine& engine() { return *engine_; }

    // Starts a non-blocking connect for conns[i] (identity conns[i].ident). False on a local
    // error (descriptor limit, no port): the caller decides.
    bool start(size_t i) {
        Conn& c = conns[i];
        c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) {
            last_errno = errno;
            last_error = std::string("socket: ") + strerror(errno);
            return false;
        }
        int one = 1;
        setsockopt(c.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in src{};
        src.sin_family = AF_INET;
        src.sin_addr.s_addr = source_per_identity
                                  ? htonl(0x7F010000u + c.ident)
                                  : htonl(0x7F000002u + static_cast<uint32_t>((next_src_++ / kPerSourceIp) % 250));
        if (::bind(c.fd, reinterpret_cast<sockaddr*>(&src), sizeof src) < 0) {
            last_errno = errno;
            last_error = std::string("bind: ") + strerror(errno);
            ::close(c.fd);
            c.fd = -1;
            return false;
        }
        const sockaddr_in& dst = c.to_receiver_gw && s_.receiver_gw.sin_port != 0 ? s_.receiver_gw : s_.gw;
        if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst) < 0 && errno != EINPROGRESS) {
            last_errno = errno;
            last_error = std::string("connect: ") + strerror(errno);
            ::close(c.fd);
            c.fd = -1;
            return false;
        }
        epoll_event ev{};
        ev.events = EPOLLOUT | EPOLLIN;
        ev.data.u64 = i;
        if (epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
        c.st = St::Connecting;
        c.want_out = true;
        c.t_start = mono_ns();
        c.walker = FrameWalker{};
        c.out.clear();
        c.out_off = 0;
        return true;
    }

    void close_conn(Conn& c, bool rst = false) {
        if (c.fd < 0) return;
        if (rst) {
            linger l{1, 0};
            setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        }
        ::close(c.fd);  // also leaves the epoll set
        c.fd = -1;
        c.st = St::Free;
    }

    void fail(Conn& c, const std::string& why) {
        ++failures;
        last_error = s_.ids[c.ident].identity + ": " + why;
        close_conn(c);
    }

    // Queues a control frame and writes what the socket takes.
    void send(Conn& c, FrameType type, std::string_view body) {
        seal_into(*s_.ids[c.ident].key, type, body, c.out, key_hint && type == FrameType::Handshake);
        flush(c);
    }

    void flush(Conn& c) {
        while (c.out_off < c.out.size()) {
            ssize_t w = ::write(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off);
            if (w < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN) break;
                fail(c, std::string("write: ") + strerror(errno));
                return;
            }
            c.out_off += (size_t)w;
        }
        if (c.out_off == c.out.size()) {
            c.out.clear();
            c.out_off = 0;
        }
        set_out(c, !c.out.empty());
    }

    void set_out(Conn& c, bool on) {
        if (c.want_out == on || c.fd < 0) return;
        c.want_out = on;
        epoll_event ev{};
        ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
        ev.data.u64 = static_cast<uint64_t>(&c - conns.data());
        epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev);
    }

    // One epoll_wait and the handling of its events. Returns the number of events.
    int poll(int timeout_ms) {
        epoll_event evs[512];
        int n = epoll_wait(epfd_, evs, 512, timeout_ms);
        if (n < 0) {
            if (errno == EINTR) return 0;
            die("epoll_wait: %s", strerror(errno));
        }
        for (int k = 0; k < n; ++k) {
            Conn& c = conns[evs[k].data.u64];
            if (c.fd < 0) continue;
            uint32_t e = evs[k].events;
            if (c.st == St::Connecting) {
                if (!(e & (EPOLLOUT | EPOLLERR | EPOLLHUP))) continue;
                int err = 0;
                socklen_t l = sizeof err;
                getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &l);
                if (err) {
                    fail(c, std::string("connect: ") + strerror(err));
                    continue;
                }
                Handshake hs;
                hs.identity = s_.ids[c.ident].identity;
                hs.port = 51258;
                std::string body;
                encode_handshake(hs, old_dialect ? Shape::Old : Shape::New, body);
                c.st = St::HsSent;
                send(c, FrameType::Handshake, body);
                continue;
            }
            if ((e & EPOLLOUT) && !c.out.empty()) flush(c);
            if (c.fd >= 0 && (e & (EPOLLIN | EPOLLERR | EPOLLHUP))) readable(c);
        }
        return n;
    }

    void readable(Conn& c) {
        for (int r = 0; r < 16 && c.fd >= 0; ++r) {
            ssize_t got = ::read(c.fd, rxbuf_.data(), rxbuf_.size());
            if (got < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN) return;
                fail(c, std::string("read: ") + strerror(errno));
                return;
            }
            if (got == 0) {
                fail(c, c.st == St::HsSent ? "closed by the gateway before the HandshakeReply" : "closed by the gateway");
                return;
            }
            c.rx_bytes += (size_t)got;
            bool ok = c.walker.feed(rxbuf_.data(), (size_t)got, [&](uint8_t type) {
                if (c.st == St::HsSent) {
                    if (type == static_cast<uint8_t>(FrameType::HandshakeReply)) {
                        c.st = St::Up;
                        if (on_up) on_up(c);
                    }
                    return;
                }
                if (type == static_cast<uint8_t>(FrameType::Data)) ++c.rx_data;
                else if (type == static_cast<uint8_t>(FrameType::PeerUpdate)) ++c.rx_peer_update;
                if (on_frame) on_frame(c, type);
            });
            if (!ok) {
                fail(c, "framing error in the gateway's stream");
                return;
            }
            if ((size_t)got < rxbuf_.size()) return;
        }
    }

    // Connects and handshakes conns[first..first+count) with at most `window` handshakes in
    // progress. Connections that fail are retried up to 3 times. Returns the number up.
    size_t establish(size_t first, size_t count, size_t window, uint64_t deadline) {
        size_t next = first, up = 0, pending = 0;
        std::vector<size_t> retry;
        auto prev_up = on_up;
        on_up = [&](Conn& c) {
            ++up;
            --pending;
            if (prev_up) prev_up(c);
        };
        const uint64_t fail0 = failures;
        uint64_t seen_fail = failures;
        while (up < count && mono_ns() < deadline) {
            while (pending < window && (next < first + count || !retry.empty())) {
                size_t i;
                if (!retry.empty()) {
                    i = retry.back();
                    retry.pop_back();
                } else {
                    i = next++;
                }
                if (!start(i)) {
                    on_up = prev_up;
                    die("connection %zu of %zu (%s): %s%s", i - first + 1, count, s_.ids[conns[i].ident].identity.c_str(),
                        last_error.c_str(),
                        last_errno == EMFILE || last_errno == ENFILE ? " (open-file limit: raise ulimit -n)"
                        : last_errno == EADDRNOTAVAIL               ? " (no free local port)"
                                                                    : "");
                }
                ++pending;
            }
            poll(50);
            if (on_tick) on_tick();
            if (failures != seen_fail) {
                // Find the connections that failed (fd closed while not up) and retry them.
                for (size_t i = first; i < next; ++i) {
                    Conn& c = conns[i];
                    if (c.fd < 0 && c.st == St::Free && c.t_start != 0 &&
                        std::find(retry.begin(), retry.end(), i) == retry.end()) {
                        --pending;
                        if (c.retries++ >= 3) die("%s", last_error.c_str());
                        c.t_start = 0;
                        retry.push_back(i);
                    }
                }
                seen_fail = failures;
            }
        }
        on_up = prev_up;
        (void)fail0;
        return up;
    }

    int epfd() const { return epfd_; }
    Setup& setup() { return s_; }

private:
    Setup& s_;
    int epfd_ = -1;
    std::unique_ptr<CryptoEngine> engine_;
    std::vector<uint8_t> rxbuf_;
    size_t next_src_ = 0;
};

}  // namespace rustun::cpbench
