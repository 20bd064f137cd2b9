#include "fleet_view.hpp"

#include <algorithm>

#include "util/clock.hpp"

namespace rustun::cp {

std::shared_ptr<const FleetSnapshot> FleetSnapshot::build(std::vector<FleetGateway> gateways,
                                                          std::vector<RemoteClient> clients, int64_t revision,
                                                          bool stale, uint64_t stale_since) {
    auto s = std::make_shared<FleetSnapshot>();
    std::sort(gateways.begin(), gateways.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    std::sort(clients.begin(), clients.end(), [](const auto& a, const auto& b) {
        return a.cluster != b.cluster ? a.cluster < b.cluster : a.identity < b.identity;
    });
    s->gateways_ = std::move(gateways);
    s->clients_ = std::move(clients);
    s->by_identity_.reserve(s->clients_.size());
    s->by_ip_.reserve(s->clients_.size());
    for (uint32_t i = 0; i < s->clients_.size(); ++i) {
        RemoteClient& c = s->clients_[i];
        c.home_gw = s->gateway(c.home);
        s->by_identity_.emplace(key(c.cluster, c.identity), i);
        s->by_ip_.emplace(key(c.cluster, std::string_view(reinterpret_cast<const char*>(&c.private_ip.value), 4)), i);
        s->by_cluster_[c.cluster].push_back(i);
    }
    s->stale = stale;
    s->stale_since = stale_since;
    s->revision = revision;
    s->built_at = realtime_s();
    return s;
}

}  // namespace rustun::cp
