// rustun-cp-bench idle: N connections kept alive; the gateway's RSS per connection.
#include "common.hpp"
#include "gateway.hpp"
#include "modes.hpp"
#include "net.hpp"

namespace rustun::cpbench {

// ---- idle -------------------------------------------------------------------------------------

int mode_idle(const Args& a) {
    check_known(a, {"config", "clients", "first", "hold", "concurrency", "gateway-pid", "timeout"});
    Setup s = load_setup(a);
    const size_t first_ident = a.num("first", 0, 0, s.ids.size() - 1);
    const size_t n = a.need("clients", 1, s.ids.size() - first_ident);
    const uint64_t hold = a.num("hold", 10, 0, 3600);
    const size_t window = a.num("concurrency", 512, 1, 100000);
    const uint64_t deadline = mono_ns() + a.num("timeout", 300, 1, 3600) * 1000000000ull;
    raise_nofile(n + 1024);
    const long pid = gateway_pid(a, s);
    const long rss0 = rss_kib(pid);

    Net net(s);
    net.conns.resize(n);
    for (size_t i = 0; i < n; ++i) net.conns[i].ident = static_cast<uint32_t>(first_ident + i);
    std::mt19937_64 rng(42);
    const uint64_t ka_period = kKeepAliveIntervalSeconds * 1'000'000'000ull;
    net.on_up = [&](Conn& c) { c.next_ka = mono_ns() + rng() % ka_period; };
    uint64_t kas = 0;
    auto keepalives = [&]() {
        const uint64_t t = mono_ns();
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

    const uint64_t t0 = mono_ns();
    uint64_t last_ka_scan = t0;
    // Connections already up get their KeepAlives while the others are being established (a scan
    // at most every second, from establish()'s poll loop): when the gateway accepts only a few
    // hundred connections per second (a fleet's mass reconnect on a shared machine: ~300/s per
    // gateway) or a SYN waits for its retransmission, establishing takes longer than
    // idle_timeout, and the first connections would otherwise be closed as silent.
    net.on_tick = [&] {
        if (mono_ns() - last_ka_scan > 1'000'000'000ull) {
            keepalives();
            last_ka_scan = mono_ns();
        }
    };
    size_t up = 0;
    for (size_t first = 0; first < n; first += 5000) {
        size_t cnt = std::min<size_t>(5000, n - first);
        up += net.establish(first, cnt, window, deadline);
        if (mono_ns() >= deadline) break;
    }
    net.on_tick = nullptr;
    const uint64_t t_est = mono_ns() - t0;
    if (up < n) die("idle: only %zu of %zu connections established within --timeout (last error: %s)", up, n, net.last_error.c_str());
    std::fprintf(stderr, "rustun-cp-bench: idle: %zu connections established in %.2f s (%.0f/s); holding %" PRIu64 " s\n",
                 n, secs(t_est), n / secs(t_est), hold);

    const uint64_t hold_end = mono_ns() + hold * 1000000000ull;
    while (mono_ns() < hold_end) {
        net.poll(100);
        if (mono_ns() - last_ka_scan > 200'000'000ull) {
            keepalives();
            last_ka_scan = mono_ns();
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

}  // namespace rustun::cpbench
