// rustun-cp-bench: a load client for a running rustun-controlplane (issue 3's benchmark).
//
// Modes (each prints one result line, or one JSON object with --json):
//   genconfig   writes a gateway YAML with N generated clients in K clusters; the benchmark
//               modes read the same file (identities, private IPs, clusters, keys, port, socket).
//   idle        N connections established and kept alive; gateway RSS per connection.
//   handshakes  connect + Handshake + HandshakeReply + close, N in total, C at a time.
//   relay       P sender/receiver pairs; Data frames of B inner bytes as fast as the gateway
//               relays them, with bounded bytes in flight per pair (no queue drops by design).
//   fanout      N old-dialect clients of one cluster; time from one KeepAlive with a new
//               address until all N-1 others received the PeerUpdate.
//
// One thread, one epoll set, non-blocking sockets. Every loop is bounded by a deadline. Not a
// test: no pass/fail (scripts/bench-controlplane.sh compares with targets).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rapidjson/document.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "config/yaml_loader.hpp"
#include "crypto/cipher_key.hpp"
#include "crypto/crypto_engine.hpp"
#include "proto/frame.hpp"
#include "proto/messages.hpp"
#include "util/version.hpp"

namespace {

using namespace rustun;

// ---- small helpers ----------------------------------------------------------------------------

[[noreturn]] void die(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::fputs("rustun-cp-bench: ", stderr);
    std::vfprintf(stderr, fmt, ap);
    std::fputc('\n', stderr);
    va_end(ap);
    std::exit(1);
}

uint64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}
double secs(uint64_t ns) { return static_cast<double>(ns) / 1e9; }

std::string ipv4_text(uint32_t v) {
    char b[16];
    std::snprintf(b, sizeof b, "%u.%u.%u.%u", v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255);
    return b;
}

void usage(FILE* f) {
    std::fputs(
        "usage: rustun-cp-bench MODE [options]\n"
        "  A load client for a running rustun-controlplane on loopback (docs/performance.md).\n"
        "\n"
        "  genconfig --clients N --clusters K --cipher SPEC --port P --socket PATH\n"
        "            [--output-queue-bytes B] [--max-peers N]\n"
        "      YAML on stdout: clients c000000.. (private IP 10.0.0.0 + index + 1, mask 255.0.0.0),\n"
        "      split into K clusters of consecutive clients (k0000..), one key (SPEC) for all,\n"
        "      workers 1, log_level warn, handshake_rate_per_source 0 (no limit).\n"
        "\n"
        "  Every other mode reads that file: --config FILE (address, identities, clusters, keys,\n"
        "  control socket).\n"
        "  idle --clients N [--hold S] [--concurrency C] [--gateway-pid PID]\n"
        "      opens N connections (distinct identities), handshakes them (new dialect), sends a\n"
        "      KeepAlive from each every 10 s, holds S seconds (default 10), then reports the\n"
        "      gateway's VmRSS (PID from --gateway-pid, else from the control socket).\n"
        "  handshakes --clients N --concurrency C\n"
        "      N handshakes in total (connect, Handshake, wait for HandshakeReply, close with RST),\n"
        "      at most C at a time, cycling over the configured identities (need > C of them).\n"
        "  relay --size B --seconds S --pairs P [--inflight BYTES] [--cipher SPEC]\n"
        "      P sender/receiver pairs (consecutive clients of one cluster); senders write\n"
        "      pre-sealed Data frames (IPv4, B bytes inner) with writev, at most BYTES (default\n"
        "      768 KiB, below the gateway's 1 MiB output queue) unreceived per pair. Reports\n"
        "      relayed Mpps, Gbps of inner bytes, sent - received, and the gateway's drop counters.\n"
        "      --cipher, if given, must equal the clusters' key (a check, not a setting).\n"
        "  fanout --clients N [--rounds R]\n"
        "      N old-dialect clients of the first cluster with >= N clients; client 0 sends a\n"
        "      KeepAlive with a new address, the time until all N-1 others hold the PeerUpdate.\n"
        "\n"
        "  Common: --config FILE, --json (one JSON object on stdout), --timeout S (default 300),\n"
        "          --version, --help. Source addresses 127.0.0.2.. (20000 connections each).\n",
        f);
}

struct Args {
    std::string mode;
    std::map<std::string, std::string> kv;
    bool json = false;

    bool has(const std::string& k) const { return kv.count(k) != 0; }
    std::string str(const std::string& k, const std::string& def = "") const {
        auto it = kv.find(k);
        return it == kv.end() ? def : it->second;
    }
    uint64_t num(const std::string& k, uint64_t def, uint64_t lo, uint64_t hi) const {
        auto it = kv.find(k);
        if (it == kv.end()) return def;
        const std::string& s = it->second;
        char* end = nullptr;
        errno = 0;
        unsigned long long v = std::strtoull(s.c_str(), &end, 10);
        if (s.empty() || *end || errno || s[0] == '-') die("--%s: '%s' is not a number", k.c_str(), s.c_str());
        if (v < lo || v > hi)
            die("--%s: %llu is out of range %" PRIu64 "..%" PRIu64, k.c_str(), v, lo, hi);
        return v;
    }
    uint64_t need(const std::string& k, uint64_t lo, uint64_t hi) const {
        if (!has(k)) die("%s: --%s is required (see --help)", mode.c_str(), k.c_str());
        return num(k, 0, lo, hi);
    }
};

Args parse_args(int argc, char** argv) {
    Args a;
    if (argc < 2) {
        usage(stderr);
        std::exit(2);
    }
    for (int i = 1; i < argc; ++i) {
        std::string s = argv[i];
        if (s == "-h" || s == "--help") {
            usage(stdout);
            std::exit(0);
        }
        if (s == "-V" || s == "--version") {
            std::printf("rustun-cp-bench %s\n", rustun::kVersion);
            std::exit(0);
        }
        if (s == "--json") {
            a.json = true;
            continue;
        }
        if (s.rfind("--", 0) == 0) {
            std::string k = s.substr(2), v;
            size_t eq = k.find('=');
            if (eq != std::string::npos) {
                v = k.substr(eq + 1);
                k = k.substr(0, eq);
            } else {
                if (i + 1 >= argc) die("--%s needs a value", k.c_str());
                v = argv[++i];
            }
            a.kv[k] = v;
            continue;
        }
        if (!a.mode.empty()) die("unexpected argument '%s' (see --help)", s.c_str());
        a.mode = s;
    }
    if (a.mode.empty()) die("no mode given (genconfig, idle, handshakes, relay, fanout; see --help)");
    return a;
}

void check_known(const Args& a, std::initializer_list<const char*> known) {
    for (auto& [k, v] : a.kv) {
        bool ok = false;
        for (const char* n : known) ok = ok || k == n;
        if (!ok) die("%s: unknown option --%s (see --help)", a.mode.c_str(), k.c_str());
    }
}

// ---- genconfig --------------------------------------------------------------------------------

int genconfig(const Args& a) {
    check_known(a, {"clients", "clusters", "cipher", "port", "socket", "output-queue-bytes", "max-peers"});
    const uint64_t n = a.need("clients", 1, 999999);
    const uint64_t k = a.need("clusters", 1, n);
    const uint64_t port = a.need("port", 1, 65535);
    const std::string cipher = a.str("cipher", "chacha20:rustun");
    if (!CipherSpec::parse(cipher)) die("genconfig: --cipher '%s' is not a cipher spec (chacha20:KEY, aes256:KEY, ...)", cipher.c_str());
    if (!a.has("socket")) die("genconfig: --socket PATH is required");
    std::string out;
    out.reserve(n * 90 + 512);
    out += "# generated by rustun-cp-bench genconfig: " + std::to_string(n) + " clients, " + std::to_string(k) +
           " clusters\n";
    out += "listen:\n  tcp: 127.0.0.1:" + std::to_string(port) + "\n";
    out += "crypto: " + cipher + "\n";
    out += "control_socket: " + a.str("socket") + "\n";
    out += "controlplane:\n  workers: 1\n  log_level: warn\n  handshake_rate_per_source: 0\n";
    if (a.has("output-queue-bytes"))
        out += "  output_queue_bytes: " + std::to_string(a.num("output-queue-bytes", 0, 65543, 1u << 30)) + "\n";
    if (a.has("max-peers")) out += "  max_peers_per_reply: " + std::to_string(a.num("max-peers", 0, 1, 10000)) + "\n";
    out += "clusters:\n";
    for (uint64_t c = 0; c < k; ++c) {
        const uint64_t first = c * n / k, last = (c + 1) * n / k;
        char line[160];
        std::snprintf(line, sizeof line, "  - name: k%04llu\n    clients:\n", (unsigned long long)c);
        out += line;
        for (uint64_t i = first; i < last; ++i) {
            std::snprintf(line, sizeof line,
                          "      - {identity: c%06llu, private_ip: %s, mask: 255.0.0.0, gateway: 10.255.255.254}\n",
                          (unsigned long long)i, ipv4_text(0x0A000000u + static_cast<uint32_t>(i) + 1).c_str());
            out += line;
        }
    }
    if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size()) die("genconfig: write failed");
    return 0;
}

// ---- configuration shared with the gateway ----------------------------------------------------

struct Ident {
    std::string identity;
    uint32_t ip = 0;
    uint32_t cluster = 0;
    const CipherKey* key = nullptr;
};

struct Setup {
    GatewayConfig cfg;
    std::vector<Ident> ids;
    std::vector<std::unique_ptr<CipherKey>> keys;
    sockaddr_in gw{};
};

Setup load_setup(const Args& a) {
    if (!a.has("config")) die("%s: --config FILE is required (the genconfig output the gateway runs with)", a.mode.c_str());
    auto cfg = load_config_file(a.str("config"));
    if (!cfg) die("%s", cfg.error().c_str());
    Setup s;
    s.cfg = std::move(cfg.value());
    const SocketAddress& la = s.cfg.listen.tcp;
    if (la.family != AddressFamily::V4 || la.port == 0)
        die("%s: listen.tcp must be an IPv4 address with a fixed port (got %s)", a.str("config").c_str(),
            la.to_string().c_str());
    s.gw.sin_family = AF_INET;
    s.gw.sin_port = htons(la.port);
    std::memcpy(&s.gw.sin_addr, la.bytes.data(), 4);
    if (s.gw.sin_addr.s_addr == htonl(INADDR_ANY)) s.gw.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::map<std::string, const CipherKey*> by_spec;
    for (size_t c = 0; c < s.cfg.clusters.size(); ++c) {
        const auto& cl = s.cfg.clusters[c];
        std::string text = cl.crypto.to_string();
        auto it = by_spec.find(text);
        if (it == by_spec.end()) {
            auto k = CipherKey::create(cl.crypto);
            if (!k) die("cluster %s: key: %s", cl.name.c_str(), k.error().c_str());
            s.keys.push_back(std::move(k.value()));
            it = by_spec.emplace(text, s.keys.back().get()).first;
        }
        for (const auto& cc : cl.clients) s.ids.push_back(Ident{cc.identity, cc.private_ip.value, (uint32_t)c, it->second});
    }
    return s;
}

// Raises RLIMIT_NOFILE to at least `want` descriptors (the hard limit too, if allowed).
void raise_nofile(uint64_t want) {
    rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) die("getrlimit: %s", strerror(errno));
    if (rl.rlim_cur >= want) return;
    rlimit nl = rl;
    nl.rlim_cur = want;
    if (nl.rlim_max < want) nl.rlim_max = want;
    if (setrlimit(RLIMIT_NOFILE, &nl) == 0) return;
    nl.rlim_cur = rl.rlim_max;
    nl.rlim_max = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nl);
    die("cannot raise the open-file limit to %llu (hard limit %llu, kernel said: %s); raise ulimit -n",
        (unsigned long long)want, (unsigned long long)rl.rlim_max, strerror(errno));
}

// One request to the gateway's control socket; the `result` member's JSON, or "" on error.
bool control_query(const std::string& path, const std::string& cmd, rapidjson::Document& doc, std::string& err) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof sa.sun_path) {
        err = "control socket path too long";
        ::close(fd);
        return false;
    }
    std::memcpy(sa.sun_path, path.c_str(), path.size());
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
        err = "connect " + path + ": " + strerror(errno);
        ::close(fd);
        return false;
    }
    std::string line = "{\"cmd\":\"" + cmd + "\"}\n";
    if (::write(fd, line.data(), line.size()) != (ssize_t)line.size()) {
        err = "write to control socket failed";
        ::close(fd);
        return false;
    }
    std::string resp;
    char buf[65536];
    while (resp.find('\n') == std::string::npos) {
        ssize_t r = ::read(fd, buf, sizeof buf);
        if (r <= 0) break;
        resp.append(buf, (size_t)r);
    }
    ::close(fd);
    doc.Parse(resp.c_str());
    if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("ok") || !doc["ok"].IsTrue() || !doc.HasMember("result")) {
        err = "bad answer from control socket: " + resp.substr(0, 200);
        return false;
    }
    return true;
}

struct GwStats {
    bool ok = false;
    std::map<std::string, uint64_t> c;
    uint64_t get(const char* k) const {
        auto it = c.find(k);
        return it == c.end() ? 0 : it->second;
    }
};

GwStats gateway_stats(const Setup& s) {
    GwStats g;
    rapidjson::Document d;
    std::string err;
    if (!control_query(s.cfg.control_socket, "stats", d, err)) {
        std::fprintf(stderr, "rustun-cp-bench: stats: %s\n", err.c_str());
        return g;
    }
    const auto& r = d["result"];
    if (!r.HasMember("controlplane") || !r["controlplane"].IsObject()) return g;
    for (auto it = r["controlplane"].MemberBegin(); it != r["controlplane"].MemberEnd(); ++it)
        if (it->value.IsUint64()) g.c[it->name.GetString()] = it->value.GetUint64();
    g.ok = true;
    return g;
}

long gateway_pid(const Args& a, const Setup& s) {
    if (a.has("gateway-pid")) return (long)a.num("gateway-pid", 0, 1, 1u << 30);
    rapidjson::Document d;
    std::string err;
    if (!control_query(s.cfg.control_socket, "status", d, err)) {
        std::fprintf(stderr, "rustun-cp-bench: status: %s\n", err.c_str());
        return -1;
    }
    const auto& r = d["result"];
    return r.HasMember("pid") && r["pid"].IsUint64() ? (long)r["pid"].GetUint64() : -1;
}

// VmRSS in KiB, or -1.
long rss_kib(long pid) {
    if (pid <= 0) return -1;
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    return -1;
}

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
    // Called for each complete frame on an established connection (type byte).
    std::function<void(Conn&, uint8_t)> on_frame;
    bool old_dialect = false;
    bool count_only = false;  // relay: established connections only count bytes/frames

    // Seals `body` as a `type` frame with the connection's key and appends it to `out`.
    void seal_into(const CipherKey& key, FrameType type, std::string_view body, std::string& out) {
        uint8_t buf[kMaxFrameSize];
        uint32_t len = 0;
        CryptoStatus st = engine_->seal(key, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(body.data()), body.size()),
                                        std::span<uint8_t>(buf + kFrameHeaderSize, kMaxPayloadSize), len);
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
        src.sin_addr.s_addr = htonl(0x7F000002u + static_cast<uint32_t>((next_src_++ / kPerSourceIp) % 250));
        if (::bind(c.fd, reinterpret_cast<sockaddr*>(&src), sizeof src) < 0) {
            last_errno = errno;
            last_error = std::string("bind: ") + strerror(errno);
            ::close(c.fd);
            c.fd = -1;
            return false;
        }
        if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&s_.gw), sizeof s_.gw) < 0 && errno != EINPROGRESS) {
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
        c.t_start = now_ns();
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
        seal_into(*s_.ids[c.ident].key, type, body, c.out);
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
        while (up < count && now_ns() < deadline) {
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

void print_json_or_line(bool json, const std::string& js, const std::string& line) {
    std::printf("%s\n", json ? js.c_str() : line.c_str());
    std::fflush(stdout);
}

std::string fmt(const char* f, ...) {
    char b[2048];
    va_list ap;
    va_start(ap, f);
    std::vsnprintf(b, sizeof b, f, ap);
    va_end(ap);
    return b;
}

// ---- idle -------------------------------------------------------------------------------------

int mode_idle(const Args& a) {
    check_known(a, {"config", "clients", "hold", "concurrency", "gateway-pid", "timeout"});
    Setup s = load_setup(a);
    const size_t n = a.need("clients", 1, s.ids.size());
    const uint64_t hold = a.num("hold", 10, 0, 3600);
    const size_t window = a.num("concurrency", 512, 1, 100000);
    const uint64_t deadline = now_ns() + a.num("timeout", 300, 1, 3600) * 1000000000ull;
    raise_nofile(n + 1024);
    const long pid = gateway_pid(a, s);
    const long rss0 = rss_kib(pid);

    Net net(s);
    net.conns.resize(n);
    for (size_t i = 0; i < n; ++i) net.conns[i].ident = static_cast<uint32_t>(i);
    std::mt19937_64 rng(42);
    const uint64_t ka_period = 10'000'000'000ull;
    net.on_up = [&](Conn& c) { c.next_ka = now_ns() + rng() % ka_period; };
    uint64_t kas = 0;
    auto keepalives = [&]() {
        const uint64_t t = now_ns();
        for (Conn& c : net.conns) {
            if (c.st != St::Up || c.next_ka > t) continue;
            KeepAlive ka;
            ka.name = "";
            ka.identity = s.ids[c.ident].identity;
            ka.port = 51258;
            std::string body;
            encode_keepalive(ka, Shape::New, body);
            net.send(c, FrameType::KeepAlive, body);
            c.next_ka = t + ka_period;
            ++kas;
        }
    };

    const uint64_t t0 = now_ns();
    uint64_t last_ka_scan = t0;
    // Establish in slices so that early connections get their KeepAlives meanwhile.
    size_t up = 0;
    for (size_t first = 0; first < n; first += 5000) {
        size_t cnt = std::min<size_t>(5000, n - first);
        up += net.establish(first, cnt, window, deadline);
        if (now_ns() - last_ka_scan > 1'000'000'000ull) {
            keepalives();
            last_ka_scan = now_ns();
        }
        if (now_ns() >= deadline) break;
    }
    const uint64_t t_est = now_ns() - t0;
    if (up < n) die("idle: only %zu of %zu connections established within --timeout (last error: %s)", up, n, net.last_error.c_str());
    std::fprintf(stderr, "rustun-cp-bench: idle: %zu connections established in %.2f s (%.0f/s); holding %" PRIu64 " s\n",
                 n, secs(t_est), n / secs(t_est), hold);

    const uint64_t hold_end = now_ns() + hold * 1000000000ull;
    while (now_ns() < hold_end) {
        net.poll(100);
        if (now_ns() - last_ka_scan > 200'000'000ull) {
            keepalives();
            last_ka_scan = now_ns();
        }
    }
    size_t alive = 0;
    for (Conn& c : net.conns) alive += c.st == St::Up;
    const long rss1 = rss_kib(pid);
    const double per_conn = rss1 > 0 ? rss1 * 1024.0 / n : -1;
    const double per_conn_delta = rss1 > 0 && rss0 > 0 ? (rss1 - rss0) * 1024.0 / n : -1;
    print_json_or_line(
        a.json,
        fmt("{\"mode\":\"idle\",\"clients\":%zu,\"alive_after_hold\":%zu,\"establish_s\":%.3f,\"establish_per_s\":%.0f,"
            "\"hold_s\":%" PRIu64 ",\"keepalives_sent\":%" PRIu64 ",\"failures\":%" PRIu64 ",\"gateway_pid\":%ld,"
            "\"rss_before_kib\":%ld,\"rss_kib\":%ld,\"rss_per_conn_bytes\":%.0f,\"rss_delta_per_conn_bytes\":%.0f}",
            n, alive, secs(t_est), n / secs(t_est), hold, kas, net.failures, pid, rss0, rss1, per_conn, per_conn_delta),
        fmt("idle: %zu clients established in %.2f s, %zu alive after %" PRIu64 " s hold (%" PRIu64
            " KeepAlives); gateway RSS %.1f MiB (%.1f MiB before), %.0f B/connection (%.0f B/connection above the "
            "empty gateway)",
            n, secs(t_est), alive, hold, kas, rss1 / 1024.0, rss0 / 1024.0, per_conn, per_conn_delta));
    return alive == n ? 0 : 1;
}

// ---- handshakes -------------------------------------------------------------------------------

int mode_handshakes(const Args& a) {
    check_known(a, {"config", "clients", "concurrency", "timeout"});
    Setup s = load_setup(a);
    const uint64_t total = a.need("clients", 1, 100000000);
    const size_t conc = a.num("concurrency", 64, 1, 50000);
    if (s.ids.size() <= conc)
        die("handshakes: the configuration has %zu identities; need more than --concurrency %zu", s.ids.size(), conc);
    const uint64_t deadline = now_ns() + a.num("timeout", 300, 1, 3600) * 1000000000ull;
    raise_nofile(conc + 1024);
    Net net(s);
    net.conns.resize(conc);
    uint64_t started = 0, done = 0;
    std::vector<uint64_t> lat;
    lat.reserve(total);
    std::vector<size_t> free_slots;
    net.on_up = [&](Conn& c) {
        lat.push_back(now_ns() - c.t_start);
        ++done;
        net.close_conn(c, true);  // RST: no TIME_WAIT on either side
        free_slots.push_back(static_cast<size_t>(&c - net.conns.data()));
    };
    for (size_t i = 0; i < conc; ++i) free_slots.push_back(i);
    const GwStats g0 = gateway_stats(s);
    const uint64_t t0 = now_ns();
    uint64_t seen_fail = 0;
    while (done < total && now_ns() < deadline) {
        while (!free_slots.empty() && started < total) {
            size_t i = free_slots.back();
            free_slots.pop_back();
            net.conns[i].ident = static_cast<uint32_t>(started % s.ids.size());
            ++started;
            if (!net.start(i)) die("handshakes: %s", net.last_error.c_str());
        }
        net.poll(50);
        if (net.failures != seen_fail) {
            // A failed handshake frees its slot; it is not retried (counted as failure).
            for (size_t i = 0; i < conc; ++i)
                if (net.conns[i].fd < 0 && std::find(free_slots.begin(), free_slots.end(), i) == free_slots.end()) {
                    free_slots.push_back(i);
                    ++done;
                }
            seen_fail = net.failures;
            if (net.failures > total / 100 + 10) die("handshakes: too many failures (%" PRIu64 "), last: %s", net.failures, net.last_error.c_str());
        }
    }
    const uint64_t el = now_ns() - t0;
    const GwStats g1 = gateway_stats(s);
    if (done < total) die("handshakes: %" PRIu64 " of %" PRIu64 " done within --timeout", done, total);
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double p) { return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, (size_t)(p * lat.size()))] / 1e6; };
    const double rate = (total - net.failures) / secs(el);
    const uint64_t ok = g1.get("handshake_ok") - g0.get("handshake_ok");
    print_json_or_line(
        a.json,
        fmt("{\"mode\":\"handshakes\",\"total\":%" PRIu64 ",\"concurrency\":%zu,\"seconds\":%.3f,\"per_s\":%.0f,"
            "\"failures\":%" PRIu64 ",\"gateway_handshake_ok\":%" PRIu64 ",\"latency_ms_p50\":%.3f,"
            "\"latency_ms_p99\":%.3f,\"latency_ms_max\":%.3f}",
            total, conc, secs(el), rate, net.failures, ok, pct(0.5), pct(0.99), pct(1.0)),
        fmt("handshakes: %" PRIu64 " in %.2f s = %.0f/s at concurrency %zu (%" PRIu64
            " failed; gateway handshake_ok +%" PRIu64 "); latency p50 %.2f ms, p99 %.2f ms",
            total, secs(el), rate, conc, net.failures, ok, pct(0.5), pct(0.99)));
    return net.failures ? 1 : 0;
}

// ---- relay ------------------------------------------------------------------------------------

int mode_relay(const Args& a) {
    check_known(a, {"config", "size", "seconds", "pairs", "inflight", "cipher", "timeout", "warmup-ms"});
    Setup s = load_setup(a);
    const uint32_t size = a.need("size", 20, 65000);
    const uint64_t seconds = a.num("seconds", 5, 1, 25);  // < idle_timeout: receivers send nothing
    const size_t pairs = a.num("pairs", 4, 1, 1000);
    const uint64_t inflight = a.num("inflight", 768 * 1024, 4096, 1u << 30);
    const uint64_t warmup_ns = a.num("warmup-ms", 1000, 0, 10000) * 1000000ull;
    if (a.has("cipher")) {
        auto sp = CipherSpec::parse(a.str("cipher"));
        if (!sp) die("relay: --cipher: %s", sp.error().c_str());
        for (auto& cl : s.cfg.clusters)
            if (cl.crypto.to_string() != sp->to_string())
                die("relay: --cipher %s but cluster %s uses %s (generate the config with that cipher)",
                    a.str("cipher").c_str(), cl.name.c_str(), cl.crypto.to_string().c_str());
    }
    // Pairs: consecutive clients of one cluster.
    std::vector<std::pair<uint32_t, uint32_t>> pr;
    for (uint32_t i = 0; i + 1 < s.ids.size() && pr.size() < pairs; ++i)
        if (s.ids[i].cluster == s.ids[i + 1].cluster) {
            pr.emplace_back(i, i + 1);
            ++i;
        }
    if (pr.size() < pairs) die("relay: the configuration has only %zu pairs of clients in one cluster", pr.size());
    raise_nofile(2 * pairs + 1024);

    Net net(s);
    net.conns.resize(2 * pairs);
    for (size_t p = 0; p < pairs; ++p) {
        net.conns[2 * p].ident = pr[p].first;       // sender
        net.conns[2 * p + 1].ident = pr[p].second;  // receiver
    }
    const uint64_t deadline = now_ns() + a.num("timeout", 60, 1, 3600) * 1000000000ull;
    if (net.establish(0, 2 * pairs, 256, deadline) < 2 * pairs) die("relay: could not connect: %s", net.last_error.c_str());

    // Pre-sealed templates: at least 64 frames and 256 KiB per sender, distinct nonces, one
    // contiguous ring (a write of up to max_write bytes is at most two iovecs).
    const size_t max_write = 256 * 1024;
    const size_t frame_len = kFrameHeaderSize + size + s.ids[pr[0].first].key->overhead();
    const size_t kTemplates = std::max<size_t>(64, (max_write + frame_len - 1) / frame_len);
    struct Sender {
        std::vector<uint8_t> ring;
        size_t pos = 0;  // byte offset in ring of the next byte to write
        uint64_t sent = 0;  // bytes written
        bool blocked = false;
    };
    std::vector<Sender> snd(pairs);
    for (size_t p = 0; p < pairs; ++p) {
        const Ident& src = s.ids[pr[p].first];
        const Ident& dst = s.ids[pr[p].second];
        std::vector<uint8_t> pkt(size, 0);
        pkt[0] = 0x45;
        pkt[2] = static_cast<uint8_t>(size >> 8);
        pkt[3] = static_cast<uint8_t>(size);
        pkt[8] = 64;
        pkt[9] = 17;
        for (int b = 0; b < 4; ++b) {
            pkt[12 + b] = static_cast<uint8_t>(src.ip >> (24 - 8 * b));
            pkt[16 + b] = static_cast<uint8_t>(dst.ip >> (24 - 8 * b));
        }
        for (size_t b = 20; b < size; ++b) pkt[b] = static_cast<uint8_t>(b);
        for (size_t t = 0; t < kTemplates; ++t) {
            auto f = net.seal_frame(*src.key, FrameType::Data,
                                    std::string_view(reinterpret_cast<const char*>(pkt.data()), pkt.size()));
            if (f.size() != frame_len) die("relay: sealed frame is %zu bytes, expected %zu", f.size(), frame_len);
            snd[p].ring.insert(snd[p].ring.end(), f.begin(), f.end());
        }
    }
    // Senders: edge-triggered EPOLLOUT (and EPOLLIN, to drain anything the gateway sends).
    for (size_t p = 0; p < pairs; ++p) {
        Conn& c = net.conns[2 * p];
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
        ev.data.u64 = 2 * p;
        epoll_ctl(net.epfd(), EPOLL_CTL_MOD, c.fd, &ev);
        c.want_out = true;
    }
    const GwStats g0 = gateway_stats(s);
    auto pump = [&](size_t p) {
        Sender& sd = snd[p];
        Conn& c = net.conns[2 * p];
        Conn& r = net.conns[2 * p + 1];
        if (c.fd < 0 || sd.blocked) return;
        for (int k = 0; k < 4; ++k) {
            const uint64_t recvd = r.rx_data * frame_len;
            if (sd.sent - recvd >= inflight) return;
            size_t want = std::min<uint64_t>(inflight - (sd.sent - recvd), max_write);
            iovec iov[8];
            int n = 0;
            size_t pos = sd.pos, left = want;
            want = 0;
            while (left && n < 8) {
                size_t take = std::min(left, sd.ring.size() - pos);
                iov[n].iov_base = sd.ring.data() + pos;
                iov[n].iov_len = take;
                ++n;
                want += take;
                left -= take;
                pos = (pos + take) % sd.ring.size();
            }
            ssize_t w = ::writev(c.fd, iov, n);
            if (w < 0) {
                if (errno == EAGAIN) {
                    sd.blocked = true;
                    return;
                }
                if (errno == EINTR) continue;
                net.fail(c, std::string("writev: ") + strerror(errno));
                return;
            }
            sd.sent += (uint64_t)w;
            sd.pos = (sd.pos + (size_t)w) % sd.ring.size();
            if ((size_t)w < want) {
                sd.blocked = true;
                return;
            }
        }
    };
    // Event loop: receivers (level-triggered EPOLLIN) are read by net.readable; sender EPOLLOUT
    // edges clear `blocked`.
    auto run_until = [&](uint64_t end, bool sending) {
        epoll_event evs[512];
        while (now_ns() < end) {
            if (sending)
                for (size_t p = 0; p < pairs; ++p) pump(p);
            int n = epoll_wait(net.epfd(), evs, 512, 5);
            for (int k = 0; k < n; ++k) {
                size_t i = evs[k].data.u64;
                Conn& c = net.conns[i];
                if (c.fd < 0) continue;
                if ((i % 2) == 0 && (evs[k].events & EPOLLOUT)) snd[i / 2].blocked = false;
                if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) net.readable(c);
            }
            if (net.failures) die("relay: %s", net.last_error.c_str());
        }
    };
    auto total_rx = [&]() {
        uint64_t t = 0;
        for (size_t p = 0; p < pairs; ++p) t += net.conns[2 * p + 1].rx_data;
        return t;
    };
    auto total_tx_frames = [&]() {
        uint64_t t = 0;
        for (auto& sd : snd) t += sd.sent / frame_len;
        return t;
    };
    const uint64_t tw = now_ns();
    run_until(tw + warmup_ns, true);
    const uint64_t rx0 = total_rx();
    const uint64_t t0 = now_ns();
    run_until(t0 + seconds * 1000000000ull, true);
    const uint64_t el = now_ns() - t0;
    const uint64_t rx1 = total_rx();
    // Drain: stop sending, wait up to 2 s for what is in flight.
    const uint64_t tx_frames = total_tx_frames();
    for (int i = 0; i < 40 && total_rx() < tx_frames; ++i) run_until(now_ns() + 50'000'000ull, false);
    const uint64_t rx_all = total_rx();
    const GwStats g1 = gateway_stats(s);
    const double frames = static_cast<double>(rx1 - rx0);
    const double mpps = frames / secs(el) / 1e6;
    const double gbps = frames * size * 8 / secs(el) / 1e9;
    const uint64_t lost = tx_frames - rx_all;  // whole frames written but never received
    auto d = [&](const char* k) { return g1.get(k) - g0.get(k); };
    const std::string cipher = s.cfg.clusters[s.ids[pr[0].first].cluster].crypto.to_string();
    const std::string method = cipher.substr(0, cipher.find(':'));
    print_json_or_line(
        a.json,
        fmt("{\"mode\":\"relay\",\"cipher\":\"%s\",\"size\":%u,\"frame_bytes\":%zu,\"pairs\":%zu,\"seconds\":%.3f,"
            "\"inflight_bytes\":%" PRIu64 ",\"frames\":%.0f,\"mpps\":%.4f,\"gbps\":%.4f,\"sent_frames\":%" PRIu64
            ",\"received_frames\":%" PRIu64 ",\"sent_minus_received\":%" PRIu64 ",\"gateway_stats\":%s,"
            "\"data_rx\":%" PRIu64 ",\"data_relayed\":%" PRIu64 ",\"data_outq_full\":%" PRIu64
            ",\"data_dst_offline\":%" PRIu64 ",\"data_no_route\":%" PRIu64 ",\"data_spoofed_source\":%" PRIu64 "}",
            method.c_str(), size, frame_len, pairs, secs(el), inflight, frames, mpps, gbps, tx_frames, rx_all, lost,
            g0.ok && g1.ok ? "true" : "false", d("data_rx"), d("data_relayed"), d("data_outq_full"),
            d("data_dst_offline"), d("data_no_route"), d("data_spoofed_source")),
        fmt("relay: %s %u B x %zu pairs: %.3f Mpps, %.2f Gbps inner over %.1f s; sent-received %" PRIu64
            " frames; gateway data_outq_full +%" PRIu64 ", data_relayed +%" PRIu64,
            method.c_str(), size, pairs, mpps, gbps, secs(el), lost, d("data_outq_full"), d("data_relayed")));
    return 0;
}

// ---- fanout -----------------------------------------------------------------------------------

int mode_fanout(const Args& a) {
    check_known(a, {"config", "clients", "rounds", "timeout"});
    Setup s = load_setup(a);
    const size_t n = a.need("clients", 2, 100000);
    const int rounds = static_cast<int>(a.num("rounds", 5, 1, 100));
    // The first cluster with at least n clients.
    size_t first = 0;
    bool found = false;
    for (size_t i = 0; i < s.ids.size();) {
        size_t j = i;
        while (j < s.ids.size() && s.ids[j].cluster == s.ids[i].cluster) ++j;
        if (j - i >= n) {
            first = i;
            found = true;
            break;
        }
        i = j;
    }
    if (!found) die("fanout: no cluster with %zu clients in the configuration", n);
    raise_nofile(n + 1024);
    Net net(s);
    net.old_dialect = true;
    net.conns.resize(n);
    for (size_t i = 0; i < n; ++i) net.conns[i].ident = static_cast<uint32_t>(first + i);
    const uint64_t deadline = now_ns() + a.num("timeout", 60, 1, 3600) * 1000000000ull;
    if (net.establish(0, n, 512, deadline) < n) die("fanout: could not connect: %s", net.last_error.c_str());
    // Let the HandshakeReplies settle.
    for (uint64_t e = now_ns() + 200'000'000ull; now_ns() < e;) net.poll(20);

    std::vector<double> ms;
    uint64_t waiting = 0, t_last = 0;
    net.on_frame = [&](Conn& c, uint8_t type) {
        if (type == static_cast<uint8_t>(FrameType::PeerUpdate) && &c != &net.conns[0]) {
            --waiting;
            t_last = now_ns();
        }
    };
    for (int r = 0; r < rounds; ++r) {
        waiting = n - 1;
        KeepAlive ka;
        ka.identity = s.ids[first].identity;
        ka.ipv6 = fmt("fd00::%d", r + 1);
        ka.port = static_cast<uint16_t>(40000 + r);
        std::string body;
        encode_keepalive(ka, Shape::Old, body);
        const uint64_t t0 = now_ns();
        net.send(net.conns[0], FrameType::KeepAlive, body);
        const uint64_t end = t0 + 10'000'000'000ull;
        while (waiting > 0 && now_ns() < end && !net.failures) net.poll(10);
        if (net.failures) die("fanout: %s", net.last_error.c_str());
        if (waiting) die("fanout: round %d: %" PRIu64 " of %zu clients got no PeerUpdate within 10 s", r + 1, waiting, n - 1);
        ms.push_back((t_last - t0) / 1e6);
        for (uint64_t e = now_ns() + 100'000'000ull; now_ns() < e;) net.poll(10);  // KeepAlive reply, quiet
    }
    std::vector<double> sorted = ms;
    std::sort(sorted.begin(), sorted.end());
    std::string list;
    for (double v : ms) {
        if (!list.empty()) list += ',';
        list += fmt("%.3f", v);
    }
    print_json_or_line(
        a.json,
        fmt("{\"mode\":\"fanout\",\"clients\":%zu,\"rounds\":%d,\"ms_min\":%.3f,\"ms_median\":%.3f,\"ms_max\":%.3f,"
            "\"ms\":[%s]}",
            n, rounds, sorted.front(), sorted[sorted.size() / 2], sorted.back(), list.c_str()),
        fmt("fanout: PeerUpdate to all %zu old-dialect peers in %.2f ms median (min %.2f, max %.2f, %d rounds)", n - 1,
            sorted[sorted.size() / 2], sorted.front(), sorted.back(), rounds));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    signal(SIGPIPE, SIG_IGN);
    Args a = parse_args(argc, argv);
    if (a.mode == "genconfig") return genconfig(a);
    if (a.mode == "idle") return mode_idle(a);
    if (a.mode == "handshakes") return mode_handshakes(a);
    if (a.mode == "relay") return mode_relay(a);
    if (a.mode == "fanout") return mode_fanout(a);
    die("unknown mode '%s' (genconfig, idle, handshakes, relay, fanout; see --help)", a.mode.c_str());
}
