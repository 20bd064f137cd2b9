#include "routing/route_overlaps.hpp"

#include <algorithm>
#include <cstdint>

namespace rustun {

namespace {

// One route of a cluster; `cidr` < 0 marks the client's private_ip (as a /32).
struct Claim {
    uint32_t start;  // network address, host bits cleared
    uint8_t len;     // 0..32
    uint32_t client;  // index into the cluster's clients
    int32_t cidr;     // index into the client's ciders, or -1 for private_ip

    uint64_t end() const { return uint64_t{start} + (uint64_t{1} << (32 - len)) - 1; }
};

std::string describe(const ClientConfig& c, const Claim& k) {
    std::string what = k.cidr < 0 ? "private_ip " + c.private_ip.to_string()
                                  : "CIDR " + c.ciders[static_cast<size_t>(k.cidr)].to_string();
    std::string s = "client '" + c.identity + "'";
    if (!c.origin.empty()) s += " (" + c.origin + ")";
    return what + " of " + s;
}

}  // namespace

RouteOverlapReport route_overlap_warnings(const GatewayConfig& cfg, size_t limit) {
    RouteOverlapReport out;
    std::vector<Claim> claims;
    std::vector<const Claim*> open;  // nested claims containing the sweep position, outermost first
    for (const ClusterConfig& cluster : cfg.clusters) {
        claims.clear();
        for (uint32_t i = 0; i < cluster.clients.size(); ++i) {
            const ClientConfig& c = cluster.clients[i];
            claims.push_back(Claim{c.private_ip.value, 32, i, -1});
            for (size_t k = 0; k < c.ciders.size(); ++k)
                claims.push_back(Claim{c.ciders[k].network(), c.ciders[k].prefix_len, i,
                                       static_cast<int32_t>(k)});
        }
        // (start, shorter first, config order): every claim follows the claims containing it,
        // and of equal prefixes the owner (first listed) comes first.
        std::sort(claims.begin(), claims.end(), [](const Claim& a, const Claim& b) {
            if (a.start != b.start) return a.start < b.start;
            if (a.len != b.len) return a.len < b.len;
            if (a.client != b.client) return a.client < b.client;
            return a.cidr < b.cidr;
        });
        open.clear();
        auto report = [&](std::string line) {
            ++out.total;
            if (out.lines.size() < limit) out.lines.push_back(std::move(line));
        };
        for (const Claim& k : claims) {
            while (!open.empty() && open.back()->end() < k.start) open.pop_back();
            // The innermost open claim of another client contains k (claims are nested or disjoint).
            const Claim* outer = nullptr;
            for (auto it = open.rbegin(); it != open.rend(); ++it)
                if ((*it)->client != k.client) {
                    outer = *it;
                    break;
                }
            if (outer != nullptr) {
                const ClientConfig& oc = cluster.clients[outer->client];
                const ClientConfig& kc = cluster.clients[k.client];
                const std::string where = "route conflict in cluster '" + cluster.name + "': ";
                if (outer->start == k.start && outer->len == k.len) {
                    report(where + describe(kc, k) + " claims the same prefix as " + describe(oc, *outer) +
                           "; '" + oc.identity + "' is listed first and receives all of it, '" + kc.identity +
                           "' none");
                } else {
                    Ipv4Cidr prefix{Ipv4Addr{k.start}, k.len};
                    report(where + describe(kc, k) + " lies inside " + describe(oc, *outer) +
                           "; the longest prefix wins, so " + prefix.to_string() + " goes to '" + kc.identity +
                           "' (the reference server would pick whichever of the two connected first)");
                }
            }
            open.push_back(&k);
        }
    }
    return out;
}

}  // namespace rustun
