// rustun-cp-bench relay: Data frames between sender/receiver pairs through the gateway.
#include <unistd.h>

#include <set>

#include "common.hpp"
#include "gateway.hpp"
#include "modes.hpp"
#include "net.hpp"

namespace rustun::cpbench {

// ---- relay ------------------------------------------------------------------------------------

int mode_relay(const Args& a) {
    check_known(a, {"config", "size", "seconds", "pairs", "inflight", "cipher", "timeout", "warmup-ms", "receiver-port"});
    Setup s = load_setup(a);
    if (a.has("receiver-port")) {  // receivers on another gateway of a fleet (same configuration)
        s.receiver_gw = s.gw;
        s.receiver_gw.sin_port = htons(static_cast<uint16_t>(a.need("receiver-port", 1, 65535)));
    }
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
        net.conns[2 * p + 1].to_receiver_gw = true;
    }
    const uint64_t deadline = mono_ns() + a.num("timeout", 60, 1, 3600) * 1000000000ull;
    if (net.establish(0, 2 * pairs, 256, deadline) < 2 * pairs) die("relay: could not connect: %s", net.last_error.c_str());
    if (a.has("receiver-port")) {
        // The senders' gateway relays to the receivers only once its fleet view has them (the
        // registry's watch: ~0.1-0.4 s). A frame sent before is dropped there (data_dst_offline)
        // and the senders' in-flight window would never drain: wait for the view first.
        std::set<std::string> want;
        for (size_t p = 0; p < pairs; ++p) want.insert(s.ids[pr[p].second].identity);
        const uint64_t view_deadline = mono_ns() + 15'000'000'000ull;
        for (;;) {
            rapidjson::Document d;
            std::string err;
            size_t seen = 0;
            if (control_request(s.cfg.control_socket, R"({"cmd":"clients","all":"true"})", d, err) &&
                d["result"].HasMember("remote") && d["result"]["remote"].IsArray())
                for (const auto& c : d["result"]["remote"].GetArray())
                    if (c.HasMember("identity") && c["identity"].IsString() && want.count(c["identity"].GetString())) ++seen;
            if (seen == want.size()) break;
            if (mono_ns() > view_deadline)
                die("relay: after 15 s the senders' gateway lists %zu of the %zu receivers as online on another gateway",
                    seen, want.size());
            usleep(20'000);
        }
    }

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
        while (mono_ns() < end) {
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
    const uint64_t tw = mono_ns();
    run_until(tw + warmup_ns, true);
    const uint64_t rx0 = total_rx();
    const uint64_t t0 = mono_ns();
    run_until(t0 + seconds * 1000000000ull, true);
    const uint64_t el = mono_ns() - t0;
    const uint64_t rx1 = total_rx();
    // Drain: stop sending, wait up to 2 s for what is in flight.
    const uint64_t tx_frames = total_tx_frames();
    for (int i = 0; i < 40 && total_rx() < tx_frames; ++i) run_until(mono_ns() + 50'000'000ull, false);
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

}  // namespace rustun::cpbench
