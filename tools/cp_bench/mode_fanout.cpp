// rustun-cp-bench fanout: time until every old-dialect peer holds the PeerUpdate.
#include "common.hpp"
#include "gateway.hpp"
#include "modes.hpp"
#include "net.hpp"

namespace rustun::cpbench {

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
    const uint64_t deadline = mono_ns() + a.num("timeout", 60, 1, 3600) * 1000000000ull;
    if (net.establish(0, n, 512, deadline) < n) die("fanout: could not connect: %s", net.last_error.c_str());
    // Let the HandshakeReplies settle.
    for (uint64_t e = mono_ns() + 200'000'000ull; mono_ns() < e;) net.poll(20);

    std::vector<double> ms;
    uint64_t waiting = 0, t_last = 0;
    net.on_frame = [&](Conn& c, uint8_t type) {
        if (type == static_cast<uint8_t>(FrameType::PeerUpdate) && &c != &net.conns[0]) {
            --waiting;
            t_last = mono_ns();
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
        const uint64_t t0 = mono_ns();
        net.send(net.conns[0], FrameType::KeepAlive, body);
        const uint64_t end = t0 + 10'000'000'000ull;
        while (waiting > 0 && mono_ns() < end && !net.failures) net.poll(10);
        if (net.failures) die("fanout: %s", net.last_error.c_str());
        if (waiting) die("fanout: round %d: %" PRIu64 " of %zu clients got no PeerUpdate within 10 s", r + 1, waiting, n - 1);
        ms.push_back((t_last - t0) / 1e6);
        for (uint64_t e = mono_ns() + 100'000'000ull; mono_ns() < e;) net.poll(10);  // KeepAlive reply, quiet
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

}  // namespace rustun::cpbench
