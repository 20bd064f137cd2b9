// rustun-loadgen: a DPDK load generator for rustun-dataplane (docs/load-testing.md).
//
//   rustun-loadgen [options] -- EAL args          closed-loop run (one lcore: TX and RX)
//   rustun-loadgen genconfig [scenario options] [--tcp ADDR:PORT]   gateway YAML for the scenario
//
// N simulated clients (own source IP/port each) in C clusters, paired inside their cluster; every
// client sends Data to its partner from PRE-SEALED templates: K templates per flow, each sealed
// once at start with a nonce that carries {flow, slot, run tag} in the clear. The sender records
// the TSC and sequence number of the slot it sends; the receiver reads the nonce of the relayed
// frame (unchanged by the gateway) and looks them up: latency, loss, reordering without any
// per-packet crypto in the generator. Each packet is a copy of its template into a fresh mbuf from a
// small, cache-hot pool (a refcounted template mbuf per slot was slower: thousands of cold mbufs).
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/address.hpp"
#include "fleet/link_auth.hpp"
#include "latency.hpp"
#include "util/endian.hpp"
#include "proto/frame.hpp"
#include "scenario.hpp"
#include "scenario_options.hpp"
#include "shm_cp.hpp"
#include "util/cli.hpp"

using namespace rustun;
using namespace rustun::loadgen;

namespace {

volatile std::sig_atomic_t g_stop = 0;
constexpr uint32_t kMaxQueues = 8;  // --queues limit
void on_signal(int) { g_stop = 1; }

[[noreturn]] void die(const char* fmt, const std::string& a = "") {
    std::fprintf(stderr, "rustun-loadgen: ");
    std::fprintf(stderr, fmt, a.c_str());
    std::fprintf(stderr, "\n");
    std::exit(2);
}

// `rustun-loadgen [options] -- EAL-ARGS` (the run) or `rustun-loadgen genconfig [options]`.
cli::Spec loadgen_spec(bool genconfig) {
    cli::Spec spec{.program = "rustun-loadgen"};
    if (genconfig) {
        spec.command = "genconfig";
        spec.usage = "[scenario options] [--tcp ADDR:PORT] [--clients-file PATH]";
        spec.about = "The gateway YAML of the scenario on stdout.";
        spec.options = {{"tcp", 0, "ADDR:PORT", "the gateway's listen.tcp (default 127.0.0.1:18080)"},
                        {"clients-file", 0, "PATH",
                         "write the clients to PATH as a routes.json and name it in the YAML's clients_file\n"
                         "(the loader's fast path for large configurations); the YAML keeps one key per\n"
                         "cluster. PATH is written as given: absolute, or relative to the YAML's directory"}};
    } else {
        spec.usage = "[options] -- EAL-ARGS\n       rustun-loadgen genconfig [scenario options] [--tcp ADDR:PORT]";
        spec.about = "A closed-loop DPDK load generator for rustun-dataplane (docs/load-testing.md).";
        spec.options = {
            {"bind", 0, "MODE",
             "how the gateway learns the endpoints: shm:PATH (act as the control plane on the\n"
             "dataplane's channel, same host), keepalive (UDP KeepAlives with seq, repeated every\n"
             "10 s; the real control plane binds them; binding: at most 512 unanswered at a time,\n"
             "time on stderr and in --json: bind_seconds), none (default; e.g. against rustun-memif-fwd)"},
            {"bind-timeout", 0, "S", "give up binding (--bind keepalive) after S seconds (default 120)"},
            {"no-key-hint", 0, nullptr, "KeepAlives with random nonces (reference-shaped): no key-hint tag"},
            {"link", 0, nullptr,
             "with --bind shm: every destination is online on another fleet member whose dataplane\n"
             "is this generator (docs/fleet.md, \"UDP link through the dataplane\"): the dataplane\n"
             "seals every relayed frame in a link frame to us; we count the frames inside them"},
            {"link-in", 0, nullptr,
             "with --bind shm: every frame arrives as a link frame from another fleet member (this\n"
             "generator) for a client here: the dataplane verifies the fleet-key tag and relays the\n"
             "frame inside (the receiving side of the UDP link); each frame gets a fresh link\n"
             "sequence and tag as it is sent"},
            {"rate", 0, "PPS", "offered packets/s over all flows; 0 = as fast as possible (default 0)"},
            {"seconds", 0, "S", "measured seconds (default 5)"},
            {"warmup", 0, "S", "seconds before measuring (default 1)"},
            {"templates", 0, "K", "sealed templates per flow (default: auto, 1..64, <= --template-mib)"},
            {"template-mib", 0, "M", "memory for templates (default 384)"},
            {"burst", 0, "N", "TX burst (default 32)"},
            {"flow-burst", 0, "N",
             "consecutive packets per flow before the next flow (default 1: the worst-case\n"
             "round-robin sweep over all flows; N > 1: per-flow bursts, the locality of real traffic)"},
            {"port", 0, "NAME", "DPDK port (default: the first)"},
            {"queues", 0, "N",
             "RX/TX queue pairs (default 1); flow f sends on queue f mod N (memif has no RSS: the\n"
             "generator picks the queue per flow, as a NIC's RSS would per 5-tuple); all are polled"},
            {"json", 0, nullptr, "one JSON object instead of the table"},
            {"quiet", 0, nullptr, "no progress line per second on stderr"},
        };
        spec.epilog = "Output: a progress line per second on stderr, a table on stdout.\n"
                      "Exit 0 = ran; 1 = setup failure; 2 = usage error; 3 = no packet came back.";
        spec.eal_after_dashdash = true;
    }
    const auto& sc = scenario_cli_options();
    spec.options.insert(spec.options.end(), sc.begin(), sc.end());
    return spec;
}

struct Args {
    ScenarioOptions sc;
    std::string bind = "none";
    double rate = 0;
    double seconds = 5, warmup = 1;
    double bind_timeout = 120;  // seconds the KeepAlive binding phase may take
    uint32_t templates = 0, template_mib = 384, burst = 32;
    uint32_t flow_burst = 1;  // packets of one flow in a row (1 = round-robin sweep)
    uint32_t queues = 1;      // queue pairs; flow f on queue f % queues
    std::string port;
    bool json = false, quiet = false;
    bool link = false;     // --link: destinations remote, frames come back as link frames
    bool link_in = false;  // --link-in: frames sent as a member's link frames
    std::string tcp = "127.0.0.1:18080";
    std::string clients_file;  // genconfig: routes.json to write (empty: clients inline)
    std::vector<std::string> eal;
};

// Parses the command line into `a`: nullopt to go on, or the exit code to return now.
std::optional<int> parse(Args& a, int argc, char** argv, bool genconfig) {
    const cli::Spec spec = loadgen_spec(genconfig);
    cli::Parsed p;
    if (auto code = cli::parse(spec, argc, argv, p, genconfig ? 2 : 1)) return code;
    if (Status st = apply_scenario_options(p, a.sc); !st) return cli::usage_error(spec, st.error());
    auto rate = p.number("rate", 0, 1e9, a.rate);
    auto seconds = p.number("seconds", 0.1, 3600, a.seconds);
    auto warmup = p.number("warmup", 0, 600, a.warmup);
    auto bind_timeout = p.number("bind-timeout", 1, 86400, a.bind_timeout);
    auto templates = p.uint("templates", 1, 64, a.templates);
    auto template_mib = p.uint("template-mib", 16, 65536, a.template_mib);
    auto burst = p.uint("burst", 1, 64, a.burst);
    auto flow_burst = p.uint("flow-burst", 1, 1024, a.flow_burst);
    auto queues = p.uint("queues", 1, kMaxQueues, a.queues);
    for (const auto* r : {&rate, &seconds, &warmup, &bind_timeout})
        if (!*r) return cli::usage_error(spec, r->error());
    for (const auto* r : {&templates, &template_mib, &burst, &flow_burst, &queues})
        if (!*r) return cli::usage_error(spec, r->error());
    a.rate = *rate;
    a.seconds = *seconds;
    a.warmup = *warmup;
    a.bind_timeout = *bind_timeout;
    a.templates = static_cast<uint32_t>(*templates);
    a.template_mib = static_cast<uint32_t>(*template_mib);
    a.burst = static_cast<uint32_t>(*burst);
    a.flow_burst = static_cast<uint32_t>(*flow_burst);
    a.queues = static_cast<uint32_t>(*queues);
    a.bind = p.value("bind", a.bind);
    a.port = p.value("port");
    a.tcp = p.value("tcp", a.tcp);
    if (genconfig) a.clients_file = p.value("clients-file");
    a.json = p.has("json");
    a.quiet = p.has("quiet");
    if (p.has("no-key-hint")) a.sc.key_hint = false;
    a.link = p.has("link");
    if (a.link && a.bind.rfind("shm:", 0) != 0) return cli::usage_error(spec, "--link needs --bind shm:PATH");
    a.link_in = p.has("link-in");
    if (a.link_in && a.bind.rfind("shm:", 0) != 0) return cli::usage_error(spec, "--link-in needs --bind shm:PATH");
    if (a.link && a.link_in) return cli::usage_error(spec, "--link and --link-in exclude each other");
    a.eal = p.rest;
    if (!genconfig && a.eal.empty())
        return cli::usage_error(spec, "EAL arguments are required after -- (e.g. --no-pci --in-memory "
                                      "--file-prefix=lg -l 0 --vdev=net_memif0,...)");
    return std::nullopt;
}

// Per (flow, slot): when and with which sequence number the slot was last sent.
struct SlotState {
    uint64_t tsc;
    uint64_t seq;
};

struct Totals {
    uint64_t sent = 0, received = 0, foreign = 0, misdelivered = 0, reordered = 0, gaps = 0, ka_sent = 0, ka_replies = 0;
};

}  // namespace

int main(int argc, char** argv) {
    const auto t_prog0 = std::chrono::steady_clock::now();
    const bool genconfig = argc >= 2 && std::string(argv[1]) == "genconfig";
    Args a;
    if (auto code = parse(a, argc, argv, genconfig)) return *code;
    if (genconfig) {
        std::string err;
        auto sc = Scenario::create(a.sc, err);
        if (!sc) die("%s", err);
        if (!a.clients_file.empty()) {
            const std::string json = sc->routes_json();
            FILE* f = std::fopen(a.clients_file.c_str(), "w");
            if (f == nullptr || std::fwrite(json.data(), 1, json.size(), f) != json.size() || std::fclose(f) != 0)
                die("genconfig: cannot write --clients-file %s", a.clients_file);
        }
        std::fputs(sc->gateway_yaml(a.tcp, "", a.clients_file).c_str(), stdout);
        return 0;
    }
    std::vector<char*> eal{argv[0]};
    for (auto& e : a.eal) eal.push_back(e.data());

    std::string err;
    auto sc = Scenario::create(a.sc, err);
    if (!sc) die("%s", err);
    auto eng_r = CryptoEngine::create();
    if (!eng_r) die("crypto engine: %s", eng_r.error());
    auto eng = std::move(*eng_r);

    eal.push_back(nullptr);
    if (rte_eal_init(static_cast<int>(eal.size() - 1), eal.data()) < 0) die("EAL init failed: %s", rte_strerror(rte_errno));
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    int rc = 0;
    {
        uint16_t port = 0;
        if (!a.port.empty()) {
            if (rte_eth_dev_get_port_by_name(a.port.c_str(), &port) != 0) die("--port: no DPDK port '%s'", a.port);
        } else if (rte_eth_dev_count_avail() == 0) {
            die("no DPDK port (add --vdev=net_memif0,... or -a PCI after --)%s");
        } else {
            RTE_ETH_FOREACH_DEV(port) break;
        }
        const uint32_t flows = sc->clients();
        // --link-in: each flow's datagram is a link frame from the member (its cluster's name, and
        // so its length, differs by cluster): header, the Data frame, the tag.
        std::shared_ptr<const fleet::LinkKey> link_key;
        std::unique_ptr<fleet::LinkAuth> link_auth;
        std::vector<uint32_t> link_header(a.link_in ? flows : 0);  // bytes of its link header
        uint32_t wire = sc->wire_len();  // the longest datagram of any flow
        std::vector<std::string> cluster_names;
        for (uint32_t c = 0; a.link_in && c < sc->clusters(); ++c) cluster_names.push_back(ShmControlPlane::cluster_name(c));
        auto link_header_of = [&](uint32_t f) {
            fleet::LinkHeader h;
            h.sender = ShmControlPlane::kLinkMember;
            h.cluster = cluster_names[sc->client(f).cluster];
            h.dst_ip = sc->client(sc->partner(f)).private_ip;
            h.frame_len = sc->frame_len();
            h.salt = 0x1u;  // the member's process; its sequence never repeats within this run
            return h;
        };
        if (a.link_in) {
            auto k = fleet::LinkKey::create(ShmControlPlane::kLinkKey);
            auto la = fleet::LinkAuth::create();
            if (!k || !la) die("--link-in: %s", k ? la.error() : k.error());
            link_key = k.value();
            link_auth = std::move(la).value();
        }
        const uint32_t plain_wire = wire;
        auto wire_of = [&](uint32_t f) {
            return a.link_in ? 42 + link_header[f] + sc->frame_len() + static_cast<uint32_t>(fleet::kLinkTagLen) : plain_wire;
        };
        for (uint32_t f = 0; a.link_in && f < flows; ++f) {
            link_header[f] = static_cast<uint32_t>(fleet::link_header_size(link_header_of(f)));
            wire = std::max(wire, wire_of(f));
        }
        uint32_t K = a.templates;
        // Enough slots that a slot is not re-sent while its previous copy may still be in flight
        // (per-flow period x K >> latency), few enough to stay cache-friendly: ~4096 in all.
        if (K == 0) K = static_cast<uint32_t>(std::clamp<uint64_t>(std::min<uint64_t>(4096 / flows, (uint64_t{a.template_mib} << 20) / (uint64_t{wire} * flows)), 1, 64));
        if (uint64_t{flows} * K * wire > (uint64_t{a.template_mib} << 20))
            die("templates need more than --template-mib (%s MiB)", std::to_string(a.template_mib));
        const int sock = rte_socket_id();
        rte_mempool* rxpool = rte_pktmbuf_pool_create("lg_rx", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, sock);
        rte_mempool* txpool = rte_pktmbuf_pool_create("lg_tx", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, sock);
        if (!rxpool || !txpool) die("mbuf pools: %s (hugepages?)", rte_strerror(rte_errno));

        const uint16_t nq = static_cast<uint16_t>(a.queues);
        rte_eth_conf conf{};
        if (int r = rte_eth_dev_configure(port, nq, nq, &conf); r < 0) die("port configure: %s", rte_strerror(-r));
        uint16_t nrx = 1024, ntx = 1024;
        rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx);
        for (uint16_t q = 0; q < nq; ++q)
            if (rte_eth_rx_queue_setup(port, q, nrx, sock, nullptr, rxpool) < 0 ||
                rte_eth_tx_queue_setup(port, q, ntx, sock, nullptr) < 0)
                die("queue setup failed (--queues %s)", std::to_string(nq));
        if (int r = rte_eth_dev_start(port); r < 0) die("port start: %s", rte_strerror(-r));
        rte_eth_promiscuous_enable(port);

        // ---- templates: sealed once, laid out [slot][flow] so that a round-robin sweep over the
        // flows (all at the same slot) reads them sequentially ----
        const uint64_t hz = rte_get_tsc_hz();
        const uint64_t t_seal0 = rte_rdtsc();
        const uint32_t stride = (wire + 63) & ~63u;
        SocketAddress member{};  // --link-in: where the member's link frames come from
        if (a.link_in) {
            auto m = parse_socket_address(ShmControlPlane::kLinkPeer);
            if (!m) die("--link-in: %s", m.error());
            member = m.value();
        }
        std::vector<uint8_t, std::allocator<uint8_t>> tmpl(uint64_t{flows} * K * stride);
        std::vector<uint8_t> frame(sc->frame_len());
        for (uint32_t k = 0; k < K; ++k)
            for (uint32_t f = 0; f < flows; ++f) {
                if (!sc->data_frame(*eng, f, k, frame.data())) die("sealing a template failed%s");
                uint8_t* out = &tmpl[(uint64_t{k} * flows + f) * stride];
                if (!a.link_in) {
                    sc->datagram(f, frame.data(), sc->frame_len(), out);
                    continue;
                }
                // The link frame around it (its sequence and tag are written as it is sent).
                std::vector<uint8_t> lf(wire_of(f) - 42);
                if (link_auth->seal(*link_key, link_header_of(f), frame, lf) != lf.size()) die("--link-in: sealing a link frame failed%s");
                sc->datagram_from(load_be32(member.bytes.data()), member.port, lf.data(), static_cast<uint32_t>(lf.size()), out);
            }
        const double seal_s = double(rte_rdtsc() - t_seal0) / double(hz);
        const uint64_t t_bind0 = rte_rdtsc();
        double bind_s = 0, bind_since_start_s = 0;
        // ---- binding ----
        ShmControlPlane cp;
        const bool shm_mode = a.bind.rfind("shm:", 0) == 0;
        const bool ka_mode = a.bind == "keepalive";
        if (!shm_mode && !ka_mode && a.bind != "none") die("--bind: '%s' (shm:PATH, keepalive, none)", a.bind);
        Totals tot;
        std::vector<uint8_t> ka_bound(ka_mode ? flows : 0, 0);
        uint32_t ka_bound_n = 0;
        uint32_t ka_outstanding = 0;  // binding phase: KeepAlives sent and not answered yet
        auto send_keepalive = [&](uint32_t i, const std::string& cookie = {}) {
            auto f = sc->keepalive_frame(*eng, i, realtime_us(), cookie);
            rte_mbuf* m = rte_pktmbuf_alloc(rxpool);
            if (!m) return false;
            auto* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(42 + f.size())));
            sc->datagram(i, f.data(), static_cast<uint32_t>(f.size()), d);
            if (rte_eth_tx_burst(port, static_cast<uint16_t>(i % nq), &m, 1) == 1) {
                ++tot.ka_sent;
                return true;
            }
            rte_pktmbuf_free(m);
            return false;
        };
        // RX classification shared by the binding phase and the run.
        LatencyHistogram hist;
        std::vector<SlotState> slots(uint64_t{flows} * K, SlotState{0, 0});
        std::vector<uint64_t> next_seq(flows, 0), expect(flows, 0);
        bool measuring = false;
        shm::CounterValues dp_rt0{};  // the dataplane workers' counters when the measurement started
        std::vector<shm::CounterValues> dp_w0;  // the same per worker
        uint64_t ns_mult = (uint64_t{1'000'000'000} << 20) / hz;  // ns = cycles * mult >> 20
        const uint32_t gw_ip = a.sc.gw_ip;
        auto handle_rx = [&](rte_mbuf** b, uint16_t n, uint64_t now) {
            for (uint16_t j = 0; j < n; ++j) {
                const uint8_t* p = rte_pktmbuf_mtod(b[j], const uint8_t*);
                const uint32_t len = rte_pktmbuf_data_len(b[j]);
                if (len < 42 + 8 || load_be16(p + 12) != 0x0800 || p[23] != 17) { ++tot.foreign; continue; }
                const uint32_t ihl = (p[14] & 15u) * 4;
                const uint8_t* udp = p + 14 + ihl;
                const uint8_t* fr = udp + 8;
                if (fr + 8 > p + len) { ++tot.foreign; continue; }
                const uint8_t* end = p + len;
                bool via_link = false;
                if (a.link && fr + 48 <= end && std::memcmp(fr, "RFLK", 4) == 0) {
                    // A link frame (--link): the relayed frame follows its header and names.
                    fr += 32u + fr[8] + fr[9] + fr[10];
                    end -= 16;  // its tag
                    via_link = true;
                    if (fr + 8 > end) { ++tot.foreign; continue; }
                }
                const uint32_t src = load_be32(p + 26), dst = load_be32(p + 30);
                // Relayed: addressed to a client. Reflected (memif-fwd): still addressed to the gateway.
                uint32_t receiver = sc->client_of(dst);
                if (dst == gw_ip) {
                    const uint32_t s = sc->client_of(src);
                    receiver = s < flows ? sc->partner(s) : flows;
                }
                if (fr[5] == static_cast<uint8_t>(FrameType::KeepAlive)) {
                    ++tot.ka_replies;
                    if (ka_outstanding) --ka_outstanding;
                    if (ka_mode && receiver < flows) {
                        // A return-routability challenge: echo the cookie (protocol-extensions.md).
                        std::string cookie = sc->keepalive_cookie(*eng, receiver, fr, static_cast<uint32_t>(p + len - fr));
                        if (!cookie.empty()) {
                            if (send_keepalive(receiver, cookie)) ++ka_outstanding;
                            continue;
                        }
                    }
                    if (ka_mode && receiver < flows && !ka_bound[receiver]) {
                        ka_bound[receiver] = 1;
                        ++ka_bound_n;
                    }
                    continue;
                }
                uint32_t flow, slot;
                if (!sc->read_tag(fr, static_cast<uint32_t>(end - fr), receiver, flow, slot) || slot >= K) {
                    ++tot.foreign;
                    continue;
                }
                if (via_link) receiver = sc->partner(flow);  // addressed to the member, not the client
                if (sc->partner(flow) != receiver) ++tot.misdelivered;
                ++tot.received;
                const SlotState& s = slots[uint64_t{flow} * K + slot];
                if (s.seq < expect[flow]) ++tot.reordered;
                else {
                    if (s.seq > expect[flow]) tot.gaps += s.seq - expect[flow];
                    expect[flow] = s.seq + 1;
                }
                if (measuring) hist.add(((now - s.tsc) * ns_mult) >> 20);
            }
            rte_pktmbuf_free_bulk(b, n);
        };
        auto poll_rx = [&]() {
            rte_mbuf* b[64];
            uint16_t total = 0;
            for (uint16_t q = 0; q < nq; ++q) {
                uint16_t n, got = 0;
                do {
                    n = rte_eth_rx_burst(port, q, b, 64);
                    if (n) handle_rx(b, n, rte_rdtsc());
                    got += n;
                } while (n == 64 && got < 512);
                total += got;
            }
            return total;
        };

        if (shm_mode) {
            const auto mode = a.link      ? ShmControlPlane::LinkMode::Out
                              : a.link_in ? ShmControlPlane::LinkMode::In
                                          : ShmControlPlane::LinkMode::None;
            std::string e = cp.start(a.bind.substr(4), *sc, 60'000, mode);
            if (!e.empty()) die("--bind shm: %s", e);
        } else if (ka_mode) {
            // Closed loop, as clients that each wait for their answer: at most kBindWindow
            // KeepAlives unanswered at a time (a challenge's answer is the cookie echo), so that
            // the generator measures the gateway's binding rate rather than overflowing its punt
            // ring. A second without a new binding counts what is unanswered as lost and sweeps
            // over the unbound clients again.
            constexpr uint32_t kBindWindow = 512;
            const uint64_t t_end = t_bind0 + static_cast<uint64_t>(a.bind_timeout * double(hz));
            uint32_t next = 0, last_bound = 0;
            uint64_t last_progress = rte_rdtsc(), now = last_progress;
            while (ka_bound_n < flows && now < t_end && !g_stop) {
                while (ka_outstanding < kBindWindow && next < flows) {
                    if (!ka_bound[next]) {
                        if (!send_keepalive(next)) break;  // TX ring full: poll first
                        ++ka_outstanding;
                    }
                    ++next;
                }
                poll_rx();
                now = rte_rdtsc();
                if (ka_bound_n != last_bound) {
                    last_bound = ka_bound_n;
                    last_progress = now;
                } else if (now - last_progress > hz) {
                    ka_outstanding = 0;
                    if (next >= flows) next = 0;
                    last_progress = now;
                }
            }
            bind_s = double(rte_rdtsc() - t_bind0) / double(hz);
            const double since_start =
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t_prog0).count();
            std::fprintf(stderr, "rustun-loadgen: %u of %u clients bound in %.2f s (%.2f s after the generator's start)\n",
                         ka_bound_n, flows, bind_s, since_start);
            bind_since_start_s = since_start;
        }
        const uint64_t dp0_relayed = shm_mode ? cp.counter(shm::DpCounter::relayed) : 0;
        uint64_t dp0_drops = 0;
        auto dp_drops = [&]() {
            uint64_t d = 0;
            for (size_t c = 0; c < shm::kDpCounterCount; ++c)
                if (std::string(shm::kDpCounterInfo[c].name).rfind("drop_", 0) == 0) d += cp.counter(static_cast<shm::DpCounter>(c));
            return d;
        };
        if (shm_mode) dp0_drops = dp_drops();
        const uint64_t dp0_tx_full = shm_mode ? cp.counter(shm::DpCounter::drop_tx_full) : 0;
        const uint64_t dp0_link_tx = shm_mode ? cp.counter(shm::DpCounter::link_tx) : 0;
        const uint64_t dp0_link_rx = shm_mode ? cp.counter(shm::DpCounter::link_rx) : 0;

        // ---- run ----
        const uint64_t start = rte_rdtsc();
        const uint64_t t_meas = start + static_cast<uint64_t>(a.warmup * double(hz));
        const uint64_t t_end = t_meas + static_cast<uint64_t>(a.seconds * double(hz));
        uint64_t meas_rx0 = 0, meas_tx0 = 0, meas_rx1 = 0, meas_tx1 = 0;
        uint64_t next_report = start + hz, last_rx = 0, last_tx = 0, last_report = start;
        uint32_t cursor = 0, ka_cursor = 0;
        uint64_t link_seq = 1;  // --link-in: the member's link sequence (the dataplane's replay window)
        uint32_t flow_left = a.flow_burst;  // packets the current flow still sends before the cursor moves
        const double ka_per_cycle = ka_mode ? double(flows) / (8.0 * double(hz)) : 0.0;  // all every 8 s
        double ka_due = 0;
        uint64_t ka_last = start;
        const double pkt_per_cycle = a.rate > 0 ? a.rate / double(hz) : 0.0;
        const uint32_t burst = a.burst;
        // Per queue: built and stamped packets not sent yet (they go first next time). A burst adds
        // at most burst - (the fullest queue's backlog), so no queue ever holds more than `burst`.
        rte_mbuf* txb[kMaxQueues][64];
        uint32_t pending[kMaxQueues] = {};
        uint64_t now = start;
        while (!g_stop && (now = rte_rdtsc()) < t_end) {
            poll_rx();
            if (!measuring && now >= t_meas) {
                measuring = true;
                if (shm_mode) dp_rt0 = cp.worker_counters();
                for (uint32_t w = 0; w < cp.workers(); ++w) dp_w0.push_back(cp.worker_counters(w));
                meas_rx0 = tot.received;
                meas_tx0 = tot.sent;
            }
            uint32_t want = burst;
            if (pkt_per_cycle > 0) {
                const double allowed = double(now - start) * pkt_per_cycle - double(tot.sent);
                want = allowed < 1 ? 0 : static_cast<uint32_t>(std::min<double>(burst, allowed));
            }
            const uint32_t backlog = *std::max_element(pending, pending + nq);
            if (want > burst - backlog) want = burst - backlog;
            rte_mbuf* fresh[64];
            GmacJob link_jobs[64];
            uint32_t nlink = 0;
            if (want && rte_pktmbuf_alloc_bulk(txpool, fresh, want) == 0) {
                for (uint32_t j = 0; j < want; ++j) {
                    const uint32_t f = cursor;
                    if (--flow_left == 0) {
                        cursor = cursor + 1 == flows ? 0 : cursor + 1;
                        flow_left = a.flow_burst;
                    }
                    const uint64_t seq = next_seq[f]++;
                    const uint32_t slot = static_cast<uint32_t>(seq % K);
                    slots[uint64_t{f} * K + slot] = SlotState{now, seq};
                    rte_mbuf* m = fresh[j];
                    const uint32_t len = wire_of(f);
                    uint8_t* d = rte_pktmbuf_mtod(m, uint8_t*);
                    std::memcpy(d, &tmpl[(uint64_t{slot} * flows + f) * stride], len);
                    m->data_len = static_cast<uint16_t>(len);
                    m->pkt_len = len;
                    if (a.link_in) {  // a fresh sequence; the burst's tags are computed together below
                        uint8_t* lh = d + 42;
                        store_be64(lh + fleet::kLinkNonceOffset + 4, link_seq++);
                        const uint32_t aad = link_header[f] + sc->frame_len();
                        link_jobs[nlink++] = GmacJob{lh + fleet::kLinkNonceOffset, lh, aad, lh + aad};
                    }
                    const uint32_t q = f % nq;
                    txb[q][pending[q]++] = m;
                }
            }
            if (nlink) link_auth->tag_burst(*link_key, link_jobs, nlink);
            for (uint16_t q = 0; q < nq; ++q) {
                if (!pending[q]) continue;
                const uint16_t sent = rte_eth_tx_burst(port, q, txb[q], static_cast<uint16_t>(pending[q]));
                tot.sent += sent;
                pending[q] -= sent;
                if (pending[q] && sent) std::memmove(txb[q], txb[q] + sent, pending[q] * sizeof(txb[q][0]));
            }
            if (ka_mode) {
                ka_due += double(now - ka_last) * ka_per_cycle;
                ka_last = now;
                while (ka_due >= 1) {
                    send_keepalive(ka_cursor);
                    ka_cursor = ka_cursor + 1 == flows ? 0 : ka_cursor + 1;
                    ka_due -= 1;
                }
            }
            if (now >= next_report) {
                const double dt = double(now - last_report) / double(hz);
                const double rx_mpps = double(tot.received - last_rx) / dt / 1e6;
                if (!a.quiet)
                    std::fprintf(stderr,
                                 "[lg] %5.1f s  tx %7.3f Mpps  rx %7.3f Mpps  %6.2f Gbps  sent-rcvd %9lld  reord %llu  p50 %.1f p99 %.1f us%s\n",
                                 double(now - start) / double(hz), double(tot.sent - last_tx) / dt / 1e6, rx_mpps,
                                 rx_mpps * 1e6 * a.sc.inner_size * 8 / 1e9,
                                 static_cast<long long>(tot.sent - tot.received), static_cast<unsigned long long>(tot.reordered),
                                 hist.quantile_ns(0.5) / 1e3, hist.quantile_ns(0.99) / 1e3, measuring ? "" : "  (warm-up)");
                last_rx = tot.received;
                last_tx = tot.sent;
                last_report = now;
                next_report += hz;
            }
        }
        const uint64_t t_stop = now;
        // The dataplane's own cycles per packet over the measured window (docs/dataplane.md, "Runtime").
        shm::CounterValues dp_rt1 = shm_mode ? cp.worker_counters() : shm::CounterValues{};
        if (!measuring) dp_rt0 = dp_rt1;
        for (size_t c = 0; c < shm::kDpCounterCount; ++c) dp_rt1[c] -= dp_rt0[c];
        const shm::RuntimeView dprt = shm::RuntimeView::of(dp_rt1);
        // Per worker (2 queues / 2 workers: does each carry its share, at what cost per packet).
        std::string dp_workers_json, dp_workers_text;
        for (uint32_t w = 0; w < dp_w0.size(); ++w) {
            shm::CounterValues v = cp.worker_counters(w);
            for (size_t c = 0; c < shm::kDpCounterCount; ++c) v[c] -= dp_w0[w][c];
            const shm::RuntimeView r = shm::RuntimeView::of(v);
            char b[200];
            std::snprintf(b, sizeof b,
                          "%s{\"worker\":%u,\"rx_packets\":%llu,\"packets\":%llu,\"cycles_per_packet\":%.2f,\"busy_share\":%.4f}",
                          w ? "," : "", w, static_cast<unsigned long long>(v[static_cast<size_t>(shm::DpCounter::rx_packets)]),
                          static_cast<unsigned long long>(r.packets), r.cycles_per_packet, r.busy_share);
            dp_workers_json += b;
            std::snprintf(b, sizeof b, "%sw%u %.3f M pkts %.0f cyc/pkt", w ? ", " : "", w, double(r.packets) / 1e6, r.cycles_per_packet);
            dp_workers_text += b;
        }
        std::string dp_stage_json;
        for (size_t i = 0; i < shm::kRuntimeStageCount; ++i)
            dp_stage_json += std::string(",\"dp_cycles_") + shm::kRuntimeStages[i].name + "\":" + std::to_string(dprt.stage_per_packet[i]);
        meas_rx1 = tot.received;
        meas_tx1 = tot.sent;
        if (!measuring) meas_rx0 = meas_rx1, meas_tx0 = meas_tx1;
        // Drain: everything still in flight has 200 ms to come back.
        const uint64_t drain_end = rte_rdtsc() + hz / 5;
        while (rte_rdtsc() < drain_end && tot.received < tot.sent) poll_rx();
        const double meas_s = std::max(1e-9, double(t_stop - std::min(t_stop, t_meas)) / double(hz));
        const double mpps = double(meas_rx1 - meas_rx0) / meas_s / 1e6;
        const double tx_mpps = double(meas_tx1 - meas_tx0) / meas_s / 1e6;
        const double gbps = mpps * 1e6 * a.sc.inner_size * 8 / 1e9;
        const double wire_gbps = mpps * 1e6 * (wire + 24) * 8 / 1e9;  // + preamble, IFG, FCS
        const uint64_t lost = tot.sent > tot.received ? tot.sent - tot.received : 0;
        const uint64_t dp_relayed = shm_mode ? cp.counter(shm::DpCounter::relayed) - dp0_relayed : 0;
        const uint64_t dp_drop = shm_mode ? dp_drops() - dp0_drops : 0;
        const uint64_t dp_tx_full = shm_mode ? cp.counter(shm::DpCounter::drop_tx_full) - dp0_tx_full : 0;
        // The fleet link's (--link, --link-in): frames the dataplane sealed for the member, and
        // frames of the member's it verified and relayed (neither counts as `relayed`).
        const uint64_t dp_link_tx = shm_mode ? cp.counter(shm::DpCounter::link_tx) - dp0_link_tx : 0;
        const uint64_t dp_link_rx = shm_mode ? cp.counter(shm::DpCounter::link_rx) - dp0_link_rx : 0;
        cp.stop();
        const double p50 = hist.quantile_ns(0.5) / 1e3, p99 = hist.quantile_ns(0.99) / 1e3,
                     p999 = hist.quantile_ns(0.999) / 1e3, pmax = double(hist.max_ns()) / 1e3;
        char rate[32];
        if (a.rate > 0) std::snprintf(rate, sizeof rate, "%.3f Mpps", a.rate / 1e6);
        else std::snprintf(rate, sizeof rate, "max");
        if (a.json) {
            std::printf("{\"cipher\":\"%s\",\"size\":%u,\"clients\":%u,\"clusters\":%u,\"bind\":\"%s\",\"offered_pps\":%.0f,"
                        "\"templates_per_flow\":%u,\"seal_seconds\":%.3f,\"seconds\":%.3f,\"tx_mpps\":%.4f,\"mpps\":%.4f,"
                        "\"gbps\":%.4f,\"wire_gbps\":%.4f,\"sent\":%llu,\"received\":%llu,\"lost\":%llu,\"loss_ratio\":%.6f,"
                        "\"reordered\":%llu,\"misdelivered\":%llu,\"foreign\":%llu,\"lat_samples\":%llu,\"lat_p50_us\":%.2f,"
                        "\"lat_p99_us\":%.2f,\"lat_p999_us\":%.2f,\"lat_max_us\":%.2f,\"lat_mean_us\":%.2f,"
                        "\"dp_relayed\":%llu,\"dp_drops\":%llu,\"keepalives_sent\":%llu,\"keepalive_replies\":%llu,"
                        "\"bound\":%u,\"bind_seconds\":%.3f,\"bind_seconds_since_start\":%.3f,"
                        "\"flow_burst\":%u,\"dp_cycles_per_packet\":%.2f,\"dp_packets_per_burst\":%.2f,\"dp_busy_share\":%.4f,"
                        "\"dp_cycles_other\":%.2f%s,\"queues\":%u,\"dp_tx_full\":%llu,\"dp_link_tx\":%llu,\"dp_link_rx\":%llu,"
                        "\"dp_workers\":[%s]}\n",
                        a.sc.method.c_str(), a.sc.inner_size, flows, sc->clusters(), a.bind.c_str(), a.rate, K, seal_s, meas_s,
                        tx_mpps, mpps, gbps, wire_gbps, (unsigned long long)tot.sent, (unsigned long long)tot.received,
                        (unsigned long long)lost, tot.sent ? double(lost) / double(tot.sent) : 0.0,
                        (unsigned long long)tot.reordered, (unsigned long long)tot.misdelivered, (unsigned long long)tot.foreign,
                        (unsigned long long)hist.count(), p50, p99, p999, pmax, hist.mean_ns() / 1e3,
                        (unsigned long long)dp_relayed, (unsigned long long)dp_drop, (unsigned long long)tot.ka_sent,
                        (unsigned long long)tot.ka_replies, ka_bound_n, bind_s, bind_since_start_s, a.flow_burst,
                        dprt.cycles_per_packet, dprt.packets_per_burst, dprt.busy_share, dprt.other_per_packet,
                        dp_stage_json.c_str(), a.queues, (unsigned long long)dp_tx_full, (unsigned long long)dp_link_tx,
                        (unsigned long long)dp_link_rx, dp_workers_json.c_str());
        } else {
            std::printf("rustun-loadgen: %s, inner %u B (frame %u B, wire %u B), %u clients in %u cluster(s), bind %s,\n"
                        "offered %s, %.1f s measured after %.1f s warm-up, %u sealed templates per flow (%.2f s to seal)\n\n",
                        a.sc.method.c_str(), a.sc.inner_size, sc->frame_len(), wire, flows, sc->clusters(), a.bind.c_str(), rate,
                        meas_s, a.warmup, K, seal_s);
            std::printf("| %-28s | %-44s |\n|%s|%s|\n", "metric", "value", std::string(30, '-').c_str(), std::string(46, '-').c_str());
            auto row = [](const char* k, const std::string& v) { std::printf("| %-28s | %-44s |\n", k, v.c_str()); };
            char b[128];
            std::snprintf(b, sizeof b, "%.3f Mpps (offered %.3f Mpps)", mpps, tx_mpps);
            row("relayed (received)", b);
            std::snprintf(b, sizeof b, "%.3f Gbps inner, %.3f Gbps on the wire", gbps, wire_gbps);
            row("throughput", b);
            std::snprintf(b, sizeof b, "%llu sent, %llu received", (unsigned long long)tot.sent, (unsigned long long)tot.received);
            row("packets (whole run)", b);
            std::snprintf(b, sizeof b, "%llu (%.4f %%)", (unsigned long long)lost, tot.sent ? 100.0 * double(lost) / double(tot.sent) : 0.0);
            row("loss", b);
            std::snprintf(b, sizeof b, "%llu reordered, %llu misdelivered, %llu foreign", (unsigned long long)tot.reordered,
                          (unsigned long long)tot.misdelivered, (unsigned long long)tot.foreign);
            row("order / correctness", b);
            std::snprintf(b, sizeof b, "p50 %.2f  p99 %.2f  p999 %.2f  max %.2f", p50, p99, p999, pmax);
            row("latency (us, round trip)", b);
            if (shm_mode) {
                std::snprintf(b, sizeof b, "relayed %llu, drops %llu", (unsigned long long)dp_relayed, (unsigned long long)dp_drop);
                row("dataplane counters (run)", b);
                std::snprintf(b, sizeof b, "%.1f (rx %.1f parse %.1f lookup %.1f crypto %.1f route %.1f tx %.1f)",
                              dprt.cycles_per_packet, dprt.stage_per_packet[0], dprt.stage_per_packet[1], dprt.stage_per_packet[2],
                              dprt.stage_per_packet[3], dprt.stage_per_packet[4], dprt.stage_per_packet[5]);
                row("dataplane TSC cycles/packet", b);
                std::snprintf(b, sizeof b, "%.1f packets/burst, busy %.1f %%", dprt.packets_per_burst, 100 * dprt.busy_share);
                row("dataplane bursts", b);
                if (dp_w0.size() > 1) row("dataplane per worker", dp_workers_text);
            }
            if (ka_mode) {
                std::snprintf(b, sizeof b, "%llu sent, %llu replies, %u/%u bound", (unsigned long long)tot.ka_sent,
                              (unsigned long long)tot.ka_replies, ka_bound_n, flows);
                row("KeepAlives", b);
            }
        }
        if (tot.received == 0) rc = 3;
        rte_eth_dev_stop(port);
        rte_eth_dev_close(port);
        for (uint16_t q = 0; q < nq; ++q)
            if (pending[q]) rte_pktmbuf_free_bulk(txb[q], pending[q]);
    }
    rte_eal_cleanup();
    return rc;
}
