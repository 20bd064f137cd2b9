// rustun-memif-fwd: DPDK io forwarding (what `testpmd --forward-mode=io` does; dpdk-testpmd is not in
// Debian 12's dpdk package): every packet received on the port is sent back out of it unchanged,
// one lcore, bursts of 32. It gives t_forward, the no-crypto cost of moving a packet through the same
// memif set-up as rustun-dataplane (scripts/bench.sh, docs/load-testing.md).
//   rustun-memif-fwd [--seconds S] -- EAL-ARGS        (stops on SIGINT/SIGTERM or after S s, <= 3600)
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "util/cli.hpp"

namespace {
volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }
}  // namespace

int main(int argc, char** argv) {
    const rustun::cli::Spec spec{
        .program = "rustun-memif-fwd",
        .usage = "[--seconds S] -- EAL-ARGS",
        .about = "DPDK io forwarding: every packet received on the port goes back out of it unchanged\n"
                 "(t_forward of scripts/bench.sh). Stops on SIGINT/SIGTERM or after S seconds.",
        .options = {{"seconds", 0, "S", "stop after S seconds, 0 < S <= 3600 (default 600)"}},
        .eal_after_dashdash = true,
    };
    rustun::cli::Parsed args;
    if (auto code = rustun::cli::parse(spec, argc, argv, args)) return *code;
    auto secs = args.number("seconds", 0.001, 3600, 600);
    if (!secs) return rustun::cli::usage_error(spec, secs.error());
    const double seconds = *secs;
    if (args.rest.empty()) return rustun::cli::usage_error(spec, "EAL arguments required after --");
    std::vector<char*> eal{argv[0]};
    for (auto& a : args.rest) eal.push_back(a.data());
    eal.push_back(nullptr);
    if (rte_eal_init(static_cast<int>(eal.size() - 1), eal.data()) < 0) {
        std::fprintf(stderr, "rustun-memif-fwd: EAL init failed\n");
        return 1;
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    int rc = 0;
    uint16_t port = 0;
    RTE_ETH_FOREACH_DEV(port) break;
    rte_mempool* pool = rte_pktmbuf_pool_create("fwd_pool", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
    rte_eth_conf conf{};
    uint16_t nrx = 1024, ntx = 1024;
    if (rte_eth_dev_count_avail() == 0 || !pool || rte_eth_dev_configure(port, 1, 1, &conf) < 0 ||
        rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx) < 0 ||
        rte_eth_rx_queue_setup(port, 0, nrx, rte_eth_dev_socket_id(port), nullptr, pool) < 0 ||
        rte_eth_tx_queue_setup(port, 0, ntx, rte_eth_dev_socket_id(port), nullptr) < 0 || rte_eth_dev_start(port) < 0) {
        std::fprintf(stderr, "rustun-memif-fwd: port set-up failed\n");
        rc = 1;
    } else {
        std::fprintf(stderr, "rustun-memif-fwd: forwarding on port %u\n", port);
        const uint64_t hz = rte_get_tsc_hz(), end = rte_rdtsc() + static_cast<uint64_t>(seconds * double(hz));
        uint64_t rx = 0, tx = 0, dropped = 0, busy = 0, t_first = 0, t_last = 0;
        rte_mbuf* b[32];
        while (!g_stop) {
            const uint16_t n = rte_eth_rx_burst(port, 0, b, 32);
            if (n == 0) {
                if ((++busy & 0xfff) == 0 && rte_rdtsc() > end) break;
                continue;
            }
            const uint64_t now = rte_rdtsc();
            if (!t_first) t_first = now;
            t_last = now;
            const uint16_t s = rte_eth_tx_burst(port, 0, b, n);
            rx += n;
            tx += s;
            if (s < n) {
                rte_pktmbuf_free_bulk(b + s, n - s);
                dropped += n - s;
            }
            if (now > end) break;
        }
        const double act = t_last > t_first ? double(t_last - t_first) / double(hz) : 0.0;
        std::fprintf(stderr, "rustun-memif-fwd: rx %llu tx %llu dropped %llu over %.3f s active (%.3f Mpps)\n",
                     (unsigned long long)rx, (unsigned long long)tx, (unsigned long long)dropped, act, act > 0 ? double(rx) / act / 1e6 : 0.0);
        rte_eth_dev_stop(port);
        rte_eth_dev_close(port);
    }
    rte_eal_cleanup();
    return rc;
}
