// The fleet link's FleetDirectory over the registry's FleetView (controlplane/fleet_view.hpp):
// a client's home gateway and a gateway's link address from the current snapshot (the view stays
// the registry's). docs/fleet.md, "Link".
#pragma once

#include "fleet_link.hpp"
#include "fleet_view.hpp"

namespace rustun::cp {

class FleetViewDirectory final : public FleetDirectory {
public:
    explicit FleetViewDirectory(const FleetView& view) : view_(view) {}

    // The home of a remote client (the view holds remote clients only: never this gateway).
    // Called per relayed frame: the snapshot is loaded again only when the view's version moved
    // (an atomic load of the snapshot pointer is a lock and two reference-count updates on lines
    // every worker shares). Each calling thread keeps its last snapshot alive until its next call.
    bool home_gateway(std::string_view cluster, std::string_view identity, std::string& gateway_id) const override {
        thread_local uint64_t view_id = 0;  // FleetView::id(): 0 is none
        thread_local uint64_t version = 0;
        thread_local std::shared_ptr<const FleetSnapshot> s;
        // The version first: publish() stores the snapshot before it bumps the version, so the
        // snapshot loaded after reading version v is at least v's.
        const uint64_t v = view_.version();
        if (view_id != view_.id() || v != version || !s) {
            s = view_.snapshot();
            view_id = view_.id();
            version = v;
        }
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
