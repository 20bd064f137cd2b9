#include "config_check.hpp"

#include <grp.h>
#include <sched.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "config/yaml_loader.hpp"

namespace rustun::dp {

namespace {

// Ids in a DPDK core list "0-3,5" or "(0-2)" (parentheses ignored); nullopt if malformed.
std::optional<unsigned> count_list(std::string_view s) {
    unsigned n = 0;
    while (!s.empty()) {
        const size_t comma = s.find(',');
        std::string_view item = s.substr(0, comma);
        s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
        while (!item.empty() && (item.front() == '(' || item.front() == ' ')) item.remove_prefix(1);
        while (!item.empty() && (item.back() == ')' || item.back() == ' ')) item.remove_suffix(1);
        const size_t dash = item.find('-');
        const std::string lo(item.substr(0, dash));
        const std::string hi(dash == std::string_view::npos ? lo : std::string(item.substr(dash + 1)));
        char* e1 = nullptr;
        char* e2 = nullptr;
        const unsigned long a = std::strtoul(lo.c_str(), &e1, 10), b = std::strtoul(hi.c_str(), &e2, 10);
        if (lo.empty() || hi.empty() || *e1 != '\0' || *e2 != '\0' || b < a || b - a > 4096) return std::nullopt;
        n += static_cast<unsigned>(b - a + 1);
    }
    return n;
}

// --lcores "(0-2)@(0-1),3@4,5": the lcore ids, i.e. each element's part before '@', split at
// the commas outside parentheses.
std::optional<unsigned> count_lcores_map(std::string_view s) {
    unsigned n = 0;
    int depth = 0;
    size_t start = 0;
    for (size_t i = 0; i <= s.size(); ++i) {
        const char c = i < s.size() ? s[i] : ',';
        if (c == '(') ++depth;
        if (c == ')') --depth;
        if (c != ',' || depth != 0) continue;
        std::string_view item = s.substr(start, i - start);
        start = i + 1;
        auto k = count_list(item.substr(0, item.find('@')));
        if (!k) return std::nullopt;
        n += *k;
    }
    return n;
}

}  // namespace

std::optional<unsigned> eal_lcore_count(const std::vector<std::string>& eal_args) {
    std::optional<unsigned> out;
    for (size_t i = 0; i < eal_args.size(); ++i) {
        const std::string& a = eal_args[i];
        auto value = [&](std::string_view opt) -> std::optional<std::string> {
            if (a == opt) return i + 1 < eal_args.size() ? std::optional(eal_args[++i]) : std::nullopt;
            if (opt.size() == 2 && a.size() > 2 && a.starts_with(opt)) return a.substr(2);  // -l0-3
            if (a.starts_with(std::string(opt) + "=")) return a.substr(opt.size() + 1);
            return std::nullopt;
        };
        if (auto v = value("-l")) {
            out = count_list(*v);
        } else if (auto m = value("--lcores")) {
            out = count_lcores_map(*m);
        } else if (auto c = value("-c")) {
            char* end = nullptr;
            const unsigned long long mask = std::strtoull(c->c_str(), &end, 16);
            out = *end == '\0' && !c->empty() ? std::optional<unsigned>(__builtin_popcountll(mask)) : std::nullopt;
        }
    }
    return out;
}

int check_config(const std::string& config_path, const std::vector<std::string>& cli_eal) {
    ConfigCheck check = check_config_file(config_path);
    std::vector<std::string> errors = check.errors;
    const GatewayConfig* cfg = check.config ? &*check.config : nullptr;
    std::string lcores_text = "all CPUs";
    if (cfg != nullptr) {
        if (!cfg->dataplane) errors.push_back(config_path + ": dataplane: missing section (needed by rustun-dataplane)");
        if (!cfg->listen.udp || cfg->listen.udp->port == 0)
            errors.push_back(config_path + ": listen.udp: required with a non-zero port (it is the relay port)");
    }
    if (cfg != nullptr && cfg->dataplane) {
        const DataplaneConfig& dp = *cfg->dataplane;
        if (!dp.channel_group.empty() && ::getgrnam(dp.channel_group.c_str()) == nullptr)
            errors.push_back(config_path + ": dataplane.channel_group: no group named \"" + dp.channel_group + "\"");
        std::vector<std::string> eal = dp.eal_args;
        eal.insert(eal.end(), cli_eal.begin(), cli_eal.end());
        std::optional<unsigned> lcores = eal_lcore_count(eal);
        if (!lcores) {
            cpu_set_t set;
            if (::sched_getaffinity(0, sizeof set, &set) == 0) lcores = static_cast<unsigned>(CPU_COUNT(&set));
        } else {
            lcores_text = std::to_string(*lcores) + " lcore(s)";
        }
        if (lcores && *lcores < dp.workers + 1)
            errors.push_back(config_path + ": dataplane.workers: " + std::to_string(dp.workers) + " workers need " +
                             std::to_string(dp.workers + 1) + " lcores (main + workers), the EAL arguments give " +
                             std::to_string(*lcores) + " (set -l in dataplane.eal_args)");
    }
    for (const std::string& e : errors) std::fprintf(stderr, "rustun-dataplane: %s\n", e.c_str());
    if (!errors.empty()) return 1;
    const DataplaneConfig& dp = *cfg->dataplane;
    std::printf("%s: OK: port %s, relay %s:%u, %u worker(s) on %s, %u mbufs, %u session(s), channel %s "
                "(EAL, hugepages and the port are checked at start)\n",
                config_path.c_str(), dp.port.c_str(), dp.address.to_string().c_str(), cfg->listen.udp->port, dp.workers,
                lcores_text.c_str(), dp.mbufs, dp.sessions, dp.channel.c_str());
    for (const std::string& w : check.warnings) std::printf("warning: %s\n", w.c_str());
    return 0;
}

}  // namespace rustun::dp
