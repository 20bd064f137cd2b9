// rustun-cp-bench: reading the gateway's configuration, control socket and /proc.
#include "gateway.hpp"

namespace rustun::cpbench {

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
    return control_request(path, "{\"cmd\":\"" + cmd + "\"}", doc, err);
}

bool control_request(const std::string& path, const std::string& request, rapidjson::Document& doc, std::string& err) {
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
    const std::string line = request + "\n";
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

}  // namespace rustun::cpbench
