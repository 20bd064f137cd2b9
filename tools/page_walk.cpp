// rustun-page-walk: what a random access costs when its address translation is not cached, on
// memory advised as transparent huge pages exactly as the dataplane's session slots and client
// records are (dataplane/huge_array.hpp).
//
// Two dependent pointer chases over the same number of cache lines, in random order:
//   packed: the lines are contiguous (N lines = N/64 pages of 4 KiB);
//   sparse: one line per 4 KiB page (N lines spread over N x 4 KiB).
// Both touch the same bytes of cache, so the caches treat them alike; only the number of pages
// differs. With huge pages that the TLB holds as huge pages, both cost about the same. When the
// host of a virtual machine backs the guest's memory with 4 KiB pages, the TLB caches every
// translation at 4 KiB, the sparse chase misses it on almost every access and pays a nested
// page walk: the difference is that walk's cost.
//
// Why a benchmark needs it (docs/performance.md, "Address translation on this machine"): with
// 100,000 endpoints every packet touches several per-endpoint records (session slot, client
// record, key) at random, and on such a host each costs a page walk that a prefetch does not
// hide. The figure tells a 100k-endpoint row's extra cycles that come from the host apart from
// those the dataplane could remove.
//   rustun-page-walk [--cpu N] [--lines N] [--accesses K] [--json]
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "util/cli.hpp"
#include "util/huge_pages.hpp"
#include "util/pin_thread.hpp"

namespace {

constexpr size_t kLine = 64;
constexpr size_t kPage = 4096;

// AnonHugePages of this process in KiB (/proc/self/smaps_rollup), -1 if unreadable.
long anon_huge_kib() {
    FILE* f = std::fopen("/proc/self/smaps_rollup", "r");
    if (f == nullptr) return -1;
    char line[256];
    long kib = -1;
    while (std::fgets(line, sizeof line, f))
        if (std::sscanf(line, "AnonHugePages: %ld", &kib) == 1) break;
    std::fclose(f);
    return kib;
}

uint64_t tsc_now() {
#if defined(__x86_64__)
    return __rdtsc();
#else
    return 0;
#endif
}

struct Chase {
    double ns = 0;      // per access
    double cycles = 0;  // TSC cycles per access (0 where there is no TSC)
};

// Links the lines at `offsets` of `base` into one random cycle (each line holds the address of
// the next), walks it once to warm the caches, then times `accesses` dependent loads. Returns
// false if the walk does not come back to its start after exactly offsets.size() steps.
bool chase(char* base, std::vector<size_t> offsets, uint64_t accesses, uint32_t seed, Chase& out) {
    std::mt19937 rng(seed);
    std::shuffle(offsets.begin(), offsets.end(), rng);
    const size_t n = offsets.size();
    for (size_t i = 0; i < n; ++i) {
        char* next = base + offsets[(i + 1) % n];
        std::memcpy(base + offsets[i], &next, sizeof next);
    }
    char* const start = base + offsets[0];
    char* p = start;
    for (size_t i = 0; i < n; ++i) p = *reinterpret_cast<char* volatile*>(p);
    if (p != start) return false;
    for (size_t i = 0; i < n; ++i) p = *reinterpret_cast<char* volatile*>(p);  // second warm-up lap
    const auto t0 = std::chrono::steady_clock::now();
    const uint64_t c0 = tsc_now();
    for (uint64_t i = 0; i < accesses; ++i) p = *reinterpret_cast<char* volatile*>(p);
    const uint64_t c1 = tsc_now();
    const auto t1 = std::chrono::steady_clock::now();
    if (p == nullptr) return false;  // keeps the loop; never true
    out.ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / double(accesses);
    out.cycles = double(c1 - c0) / double(accesses);
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    const rustun::cli::Spec spec{
        "rustun-page-walk",
        "",
        "[options]",
        "Cost of an uncached address translation on transparent huge pages (docs/performance.md,\n"
        "\"Address translation on this machine\"): a random pointer chase over N cache lines, packed\n"
        "against one line per 4 KiB page. A large difference means the host backs this machine's\n"
        "memory with small pages, and every cold per-endpoint record costs a page walk.",
        {
            {"cpu", 0, "N", "the CPU to run on (default 1: the dataplane worker's in scripts/bench.sh)"},
            {"lines", 0, "N", "cache lines per chase (default 16384: 1 MiB of lines, a 64 MiB sparse span;\n"
                              "64..1048576, a multiple of 64)"},
            {"accesses", 0, "K", "timed loads per chase (default 4000000, 1000..1000000000)"},
            {"json", 0, nullptr, "one JSON object on stdout instead of the text"},
        },
        "Exit status: 0, 1 when the CPU cannot be pinned or the memory not allocated, 2 on a usage error.",
    };
    rustun::cli::Parsed args;
    if (auto code = rustun::cli::parse(spec, argc, argv, args)) return *code;
    const auto cpu = args.uint("cpu", 0, CPU_SETSIZE - 1, 1);
    const auto lines = args.uint("lines", 64, 1048576, 16384);
    const auto accesses = args.uint("accesses", 1000, 1000000000, 4000000);
    for (const auto* r : {&cpu, &lines, &accesses})
        if (!*r) return rustun::cli::usage_error(spec, r->error());
    if (*lines % (kPage / kLine) != 0)
        return rustun::cli::usage_error(spec, "--lines: a multiple of 64, not " + std::to_string(*lines));
    const bool json = args.has("json");

    if (!rustun::pin_this_thread(static_cast<unsigned>(*cpu))) {
        std::fprintf(stderr, "rustun-page-walk: cannot pin to CPU %llu\n", static_cast<unsigned long long>(*cpu));
        return 1;
    }
    // One region for both chases: the sparse one spans lines x 4 KiB; the packed one uses its
    // first lines x 64 bytes. Allocated as the dataplane's tables are, then touched page by page.
    const size_t span = (*lines * kPage + rustun::kHugePageBytes - 1) / rustun::kHugePageBytes * rustun::kHugePageBytes;
    const long huge_before = anon_huge_kib();
    char* base = static_cast<char*>(rustun::alloc_huge_advised(span));
    if (base == nullptr) {
        std::fprintf(stderr, "rustun-page-walk: cannot allocate %zu MiB\n", span >> 20);
        return 1;
    }
    for (size_t off = 0; off < span; off += kPage) base[off] = 1;
    const long huge_after = anon_huge_kib();
    const long huge_kib = huge_before >= 0 && huge_after >= 0 ? huge_after - huge_before : -1;

    std::vector<size_t> packed(*lines), sparse(*lines);
    for (size_t i = 0; i < *lines; ++i) {
        packed[i] = i * kLine;
        // Line i of page i, modulo a page: the lines spread over every cache set, as packed ones do.
        sparse[i] = i * kPage + (i % (kPage / kLine)) * kLine;
    }
    Chase p{}, s{};
    if (!chase(base, packed, *accesses, 1, p) || !chase(base, sparse, *accesses, 2, s)) {
        std::fprintf(stderr, "rustun-page-walk: the pointer chase did not close (a bug)\n");
        std::free(base);
        return 1;
    }
    std::free(base);
    const double huge_share = huge_kib < 0 ? -1 : std::min(1.0, double(huge_kib) * 1024 / double(span));
    if (json) {
        std::printf("{\"cpu\":%llu,\"lines\":%llu,\"sparse_span_bytes\":%zu,\"huge_page_share\":%.3f,"
                    "\"packed_ns\":%.2f,\"sparse_ns\":%.2f,\"packed_tsc_cycles\":%.1f,\"sparse_tsc_cycles\":%.1f,"
                    "\"walk_tsc_cycles\":%.1f}\n",
                    static_cast<unsigned long long>(*cpu), static_cast<unsigned long long>(*lines), span, huge_share,
                    p.ns, s.ns, p.cycles, s.cycles, s.cycles - p.cycles);
    } else {
        std::printf("CPU %llu, %llu lines, huge pages: %s of the %zu MiB span\n", static_cast<unsigned long long>(*cpu),
                    static_cast<unsigned long long>(*lines),
                    huge_share < 0 ? "unknown" : (std::to_string(int(huge_share * 100 + 0.5)) + " %").c_str(), span >> 20);
        std::printf("packed (%llu KiB):            %6.1f ns, %6.1f TSC cycles per access\n",
                    static_cast<unsigned long long>(*lines * kLine / 1024), p.ns, p.cycles);
        std::printf("one line per 4 KiB page:     %6.1f ns, %6.1f TSC cycles per access\n", s.ns, s.cycles);
        std::printf("difference (the page walk):  %6.1f ns, %6.1f TSC cycles per access\n", s.ns - p.ns, s.cycles - p.cycles);
    }
    return 0;
}
