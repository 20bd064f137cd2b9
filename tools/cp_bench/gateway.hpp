// rustun-cp-bench: the gateway under test, as its configuration file and control socket show it.
#pragma once

#include "common.hpp"

namespace rustun::cpbench {

struct Ident {
    std::string identity;
    uint32_t ip = 0;
    uint32_t cluster = 0;
    const CipherKey* key = nullptr;
};

struct Setup {
    GatewayConfig cfg;
    std::vector<Ident> ids;
    std::vector<std::unique_ptr<CipherKey>> keys;
    sockaddr_in gw{};
    // relay --receiver-port: the receivers' gateway (127.0.0.1:port, another gateway of a fleet);
    // port 0 = the receivers use `gw` like the senders.
    sockaddr_in receiver_gw{};
};

// --config FILE: identities, clusters, keys, the TCP address and the control socket.
Setup load_setup(const Args& a);
// Raises RLIMIT_NOFILE to at least `want` descriptors (the hard limit too, if allowed).
void raise_nofile(uint64_t want);
// One request to the gateway's control socket; false (and `err`) on error.
bool control_query(const std::string& path, const std::string& cmd, rapidjson::Document& doc, std::string& err);
// The same with a whole request object (one JSON line without its newline), e.g. with arguments.
bool control_request(const std::string& path, const std::string& request, rapidjson::Document& doc, std::string& err);

struct GwStats {
    bool ok = false;
    std::map<std::string, uint64_t> c;
    uint64_t get(const char* k) const {
        auto it = c.find(k);
        return it == c.end() ? 0 : it->second;
    }
};
GwStats gateway_stats(const Setup& s);  // the control plane's counters
long gateway_pid(const Args& a, const Setup& s);  // --gateway-pid, else from `status`; -1
long rss_kib(long pid);  // VmRSS in KiB, or -1

}  // namespace rustun::cpbench
