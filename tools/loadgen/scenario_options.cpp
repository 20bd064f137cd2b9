#include "scenario_options.hpp"

#include <arpa/inet.h>

#include <cstdio>

namespace rustun::loadgen {

const std::vector<cli::Option>& scenario_cli_options() {
    static const std::vector<cli::Option> opts = {
        {"clients", 0, "N", "simulated clients, each its own UDP endpoint (default 100)"},
        {"clusters", 0, "C", "clusters (tenants, one key each); clients/C must be even (default 1)"},
        {"cipher", 0, "M", "chacha20 | aes256 | xor | plain (keys: M:loadgen-<cluster>) (default chacha20)"},
        {"size", 0, "B", "inner IPv4 packet bytes, 40..1430 (default 64)"},
        {"gw-ip", 0, "A", "gateway relay address (default 192.0.2.1)"},
        {"gw-port", 0, "P", "gateway relay port (default 8080)"},
        {"gw-mac", 0, "M", "destination MAC of our frames (default 02:00:00:00:00:fe)"},
    };
    return opts;
}

Status apply_scenario_options(const cli::Parsed& args, ScenarioOptions& so) {
    auto clients = args.uint("clients", 2, 2'000'000, so.clients);
    auto clusters = args.uint("clusters", 1, 1'000'000, so.clusters);
    auto size = args.uint("size", 40, 1430, so.inner_size);
    auto port = args.uint("gw-port", 1, 65535, so.gw_port);
    for (const auto* r : {&clients, &clusters, &size, &port})
        if (!*r) return make_error(r->error());
    so.clients = static_cast<uint32_t>(*clients);
    so.clusters = static_cast<uint32_t>(*clusters);
    so.inner_size = static_cast<uint32_t>(*size);
    so.gw_port = static_cast<uint16_t>(*port);
    so.method = args.value("cipher", so.method);
    if (so.method != "chacha20" && so.method != "aes256" && so.method != "xor" && so.method != "plain")
        return make_error("--cipher: '" + so.method + "' is not one of chacha20, aes256, xor, plain");
    if (args.has("gw-ip")) {
        in_addr a;
        const std::string v = args.value("gw-ip");
        if (inet_pton(AF_INET, v.c_str(), &a) != 1) return make_error("--gw-ip: '" + v + "' is not an IPv4 address");
        so.gw_ip = ntohl(a.s_addr);
    }
    if (args.has("gw-mac")) {
        const std::string v = args.value("gw-mac");
        unsigned m[6];
        char tail;
        if (std::sscanf(v.c_str(), "%x:%x:%x:%x:%x:%x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &tail) != 6)
            return make_error("--gw-mac: '" + v + "' is not a MAC address");
        for (int b = 0; b < 6; ++b) {
            if (m[b] > 255) return make_error("--gw-mac: '" + v + "' is not a MAC address");
            so.gw_mac[b] = static_cast<uint8_t>(m[b]);
        }
    }
    return {};
}

}  // namespace rustun::loadgen
