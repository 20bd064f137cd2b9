// rustun-cp-bench handshakes: connect + Handshake + HandshakeReply + close, N in total.
#include "common.hpp"
#include "gateway.hpp"
#include "modes.hpp"
#include "net.hpp"

namespace rustun::cpbench {

// ---- handshakes -------------------------------------------------------------------------------

int mode_handshakes(const Args& a) {
    check_known(a, {"config", "clients", "concurrency", "timeout", "key-hint", "sources"});
    Setup s = load_setup(a);
    const uint64_t total = a.need("clients", 1, 100000000);
    const size_t conc = a.num("concurrency", 64, 1, 50000);
    if (s.ids.size() <= conc)
        die("handshakes: the configuration has %zu identities; need more than --concurrency %zu", s.ids.size(), conc);
    const uint64_t deadline = mono_ns() + a.num("timeout", 300, 1, 3600) * 1000000000ull;
    raise_nofile(conc + 1024);
    Net net(s);
    const std::string hint = a.str("key-hint", "no"), sources = a.str("sources", "shared");
    if (hint != "yes" && hint != "no") die("handshakes: --key-hint: '%s' (yes, no)", hint.c_str());
    if (sources != "identity" && sources != "shared") die("handshakes: --sources: '%s' (identity, shared)", sources.c_str());
    if (sources == "identity" && s.ids.size() > 0xFEFFFF) die("handshakes: --sources identity: too many identities");
    net.key_hint = hint == "yes";
    net.source_per_identity = sources == "identity";
    net.conns.resize(conc);
    uint64_t started = 0, done = 0;
    std::vector<uint64_t> lat;
    lat.reserve(total);
    std::vector<size_t> free_slots;
    net.on_up = [&](Conn& c) {
        lat.push_back(mono_ns() - c.t_start);
        ++done;
        net.close_conn(c, true);  // RST: no TIME_WAIT on either side
        free_slots.push_back(static_cast<size_t>(&c - net.conns.data()));
    };
    for (size_t i = 0; i < conc; ++i) free_slots.push_back(i);
    const GwStats g0 = gateway_stats(s);
    const uint64_t t0 = mono_ns();
    uint64_t seen_fail = 0;
    while (done < total && mono_ns() < deadline) {
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
    const uint64_t el = mono_ns() - t0;
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
            "\"latency_ms_p99\":%.3f,\"latency_ms_max\":%.3f,\"key_hint\":%s,\"sources\":\"%s\","
            "\"gateway_auth_hint_hit\":%" PRIu64 ",\"gateway_auth_trial_opens\":%" PRIu64 "}",
            total, conc, secs(el), rate, net.failures, ok, pct(0.5), pct(0.99), pct(1.0), net.key_hint ? "true" : "false",
            sources.c_str(), g1.get("auth_hint_hit") - g0.get("auth_hint_hit"),
            g1.get("auth_trial_opens") - g0.get("auth_trial_opens")),
        fmt("handshakes: %" PRIu64 " in %.2f s = %.0f/s at concurrency %zu (%" PRIu64
            " failed; gateway handshake_ok +%" PRIu64 "); latency p50 %.2f ms, p99 %.2f ms",
            total, secs(el), rate, conc, net.failures, ok, pct(0.5), pct(0.99)));
    return net.failures ? 1 : 0;
}

}  // namespace rustun::cpbench
