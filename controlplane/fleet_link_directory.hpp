// The fleet link's FleetDirectory over the registry's FleetView (controlplane/fleet_view.hpp):
// a client's home gateway and a gateway's link address from the current snapshot (one atomic
// load, no lock; the view stays the registry's). docs/fleet.md, "Link".
#pragma once

#include "fleet_link.hpp"
#include "fleet_view.hpp"

namespace rustun::cp {

class FleetViewDirectory final : public FleetDirectory {
public:
    explicit FleetViewDirectory(const FleetView& view) : view_(view) {}

    // The home of a remote client (the view holds remote clients only: never this gateway).
    bool home_gateway(std::string_view cluster, std::string_view identity, std::string& gateway_id) const override {
        const std::shared_ptr<const FleetSnapshot> s = view_.snapshot();
        const RemoteClient* c = s->find(cluster, identity);
        if (c == nullptr) return false;
        gateway_id.assign(c->home);
        return true;
    }
    // A registered gateway other than this one, with a link address. A stale view still answers:
    // relaying to gateways that still answer on the link goes on while etcd is away.
    std::optional<std::string> link_address(std::string_view gateway_id) const override {
        const std::shared_ptr<const FleetSnapshot> s = view_.snapshot();
        const FleetGateway* g = s->gateway(gateway_id);
        if (g == nullptr || g->self || g->link.empty()) return std::nullopt;
        return g->link;
    }

private:
    const FleetView& view_;
};

}  // namespace rustun::cp
