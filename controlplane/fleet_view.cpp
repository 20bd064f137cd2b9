#include "fleet_view.hpp"

#include <algorithm>

#include "util/clock.hpp"

namespace rustun::cp {

std::shared_ptr<const FleetCluster> FleetCluster::build(std::vector<RemoteClient> clients) {
    auto c = std::make_shared<FleetCluster>();
    std::sort(clients.begin(), clients.end(), [](const auto& a, const auto& b) { return a.identity < b.identity; });
    c->clients = std::move(clients);  // final: the indexes below point into it
    c->by_identity.reserve(c->clients.size());
    c->by_ip.reserve(c->clients.size());
    for (uint32_t i = 0; i < c->clients.size(); ++i) {
        c->by_identity.emplace(c->clients[i].identity, i);
        c->by_ip.emplace(c->clients[i].private_ip.value, i);
    }
    return c;
}

std::shared_ptr<const FleetSnapshot> FleetSnapshot::build(std::vector<FleetGateway> gateways, FleetClusterMap clusters,
                                                          int64_t revision, bool stale, uint64_t stale_since) {
    auto s = std::make_shared<FleetSnapshot>();
    std::sort(gateways.begin(), gateways.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    s->gateways_ = std::move(gateways);
    s->clusters_ = std::move(clusters);
    for (const auto& [name, c] : s->clusters_) s->client_count_ += c->clients.size();
    s->stale = stale;
    s->stale_since = stale_since;
    s->revision = revision;
    s->built_at = realtime_s();
    return s;
}

}  // namespace rustun::cp
