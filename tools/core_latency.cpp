// rustun-core-latency: how long one cache line takes to go from one CPU to another and back,
// sampled over time. Two threads, pinned to CPU A and CPU B, pass a counter back and forth in one
// cache line (release store, acquire spin); a sample is the mean of --round-trips passes.
//
// Why a benchmark needs it (docs/performance.md, "Run-to-run noise"): every two-process row of
// scripts/bench.sh (memif between the generator and the dataplane, the fleet's link) moves its
// descriptors and packet bytes between two cores, at this cost per line. On a virtual machine the
// host may move the vCPUs between cores that share a cache and cores that do not; then this figure
// flips between two levels from one second to the next, and so do memif's RX and TX cycles.
//   rustun-core-latency [--cpus A,B] [--samples N] [--interval-ms M] [--round-trips K] [--json]
// Output: one line per sample (ns per round trip), then min / median / max and the share of
// samples above twice the minimum ("slow").
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "util/cli.hpp"
#include "util/pin_thread.hpp"

namespace {

struct alignas(64) Line {
    std::atomic<uint64_t> v{0};
};

// One sample: `trips` round trips A -> B -> A over one line, in ns per round trip. The caller's
// thread runs on A, the partner on B (both pinned). Odd values are A's, even values B's answer.
double sample(unsigned cpu_b, uint64_t trips, bool& pinned) {
    Line line;
    std::atomic<bool> b_pinned{true};
    std::thread partner([&] {
        b_pinned = rustun::pin_this_thread(cpu_b);
        for (uint64_t i = 0; i < trips; ++i) {
            while (line.v.load(std::memory_order_acquire) != 2 * i + 1) {
            }
            line.v.store(2 * i + 2, std::memory_order_release);
        }
    });
    const auto t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < trips; ++i) {
        line.v.store(2 * i + 1, std::memory_order_release);
        while (line.v.load(std::memory_order_acquire) != 2 * i + 2) {
        }
    }
    const auto t1 = std::chrono::steady_clock::now();
    partner.join();
    pinned = pinned && b_pinned;
    return std::chrono::duration<double, std::nano>(t1 - t0).count() / double(trips);
}

}  // namespace

int main(int argc, char** argv) {
    const rustun::cli::Spec spec{
        "rustun-core-latency",
        "",
        "[options]",
        "Cache-line round trip between two CPUs, sampled over time (docs/performance.md,\n"
        "\"Run-to-run noise\"): on a virtual machine it shows whether the host keeps the two vCPUs\n"
        "on cores that share a cache. Both CPUs are kept busy for --round-trips passes per sample.",
        {
            {"cpus", 0, "A,B", "the two CPUs (default 0,1)"},
            {"samples", 0, "N", "samples to take (default 10, 1..10000)"},
            {"interval-ms", 0, "M", "pause between samples in ms (default 200, 0..60000)"},
            {"round-trips", 0, "K", "round trips per sample (default 100000, 1000..100000000)"},
            {"json", 0, nullptr, "one JSON object on stdout instead of the text"},
        },
        "Exit status: 0, or 1 when a thread cannot be pinned, 2 on a usage error.",
    };
    rustun::cli::Parsed args;
    if (auto code = rustun::cli::parse(spec, argc, argv, args)) return *code;
    unsigned cpu_a = 0, cpu_b = 1;
    if (args.has("cpus")) {
        const std::string v = args.value("cpus");
        char tail = 0;
        if (std::sscanf(v.c_str(), "%u,%u%c", &cpu_a, &cpu_b, &tail) != 2 || cpu_a == cpu_b || cpu_a >= CPU_SETSIZE ||
            cpu_b >= CPU_SETSIZE)
            return rustun::cli::usage_error(spec, "--cpus: two different CPU numbers 'A,B', not '" + v + "'");
    }
    const auto samples = args.uint("samples", 1, 10000, 10);
    const auto interval = args.uint("interval-ms", 0, 60000, 200);
    const auto trips = args.uint("round-trips", 1000, 100000000, 100000);
    for (const auto* r : {&samples, &interval, &trips})
        if (!*r) return rustun::cli::usage_error(spec, r->error());
    const bool json = args.has("json");

    if (!rustun::pin_this_thread(cpu_a)) {
        std::fprintf(stderr, "rustun-core-latency: cannot pin to CPU %u\n", cpu_a);
        return 1;
    }
    std::vector<double> ns;
    bool pinned = true;
    for (uint64_t s = 0; s < *samples; ++s) {
        if (s && *interval) usleep(static_cast<useconds_t>(*interval * 1000));
        ns.push_back(sample(cpu_b, *trips, pinned));
        if (!pinned) {
            std::fprintf(stderr, "rustun-core-latency: cannot pin to CPU %u\n", cpu_b);
            return 1;
        }
        if (!json) std::printf("sample %3llu: %7.1f ns per round trip\n", static_cast<unsigned long long>(s), ns.back());
    }
    std::vector<double> sorted = ns;
    std::sort(sorted.begin(), sorted.end());
    const double lo = sorted.front(), med = sorted[(sorted.size() - 1) / 2], hi = sorted.back();
    const size_t slow = static_cast<size_t>(std::count_if(ns.begin(), ns.end(), [&](double x) { return x > 2 * lo; }));
    const double slow_share = double(slow) / double(ns.size());
    if (json) {
        std::printf("{\"cpus\":[%u,%u],\"round_trips\":%llu,\"samples_ns\":[", cpu_a, cpu_b,
                    static_cast<unsigned long long>(*trips));
        for (size_t i = 0; i < ns.size(); ++i) std::printf("%s%.1f", i ? "," : "", ns[i]);
        std::printf("],\"min_ns\":%.1f,\"median_ns\":%.1f,\"max_ns\":%.1f,\"slow_share\":%.3f}\n", lo, med, hi, slow_share);
    } else {
        std::printf("CPU %u <-> CPU %u: min %.1f, median %.1f, max %.1f ns per round trip; %zu of %zu samples slow (> 2x min)\n",
                    cpu_a, cpu_b, lo, med, hi, slow, ns.size());
    }
    return 0;
}
