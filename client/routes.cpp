#include "routes.hpp"

#include <net/if.h>

#include "util/log.hpp"
#include "sys.hpp"

namespace rustun::client {

std::string Route::text() const { return ipv4_text(network) + "/" + std::to_string(prefix_len); }

std::set<Route> wanted_routes(const std::vector<Peer>& peers, uint32_t tun_addr, uint32_t tun_mask) {
    std::set<Route> want;
    const uint32_t own_net = tun_addr & tun_mask;
    for (const Peer& p : peers) {
        for (const Ipv4Cidr& c : p.ciders) want.insert(Route{c.network(), c.prefix_len});
        if ((p.private_ip & tun_mask) != own_net) want.insert(Route{p.private_ip, 32});
    }
    return want;
}

bool NetlinkRouteInstaller::replace(const Route& r, const std::string& ifname) {
    const unsigned idx = if_nametoindex(ifname.c_str());
    Status st = idx ? nl_.apply(RouteOp::Replace, r.network, r.prefix_len, idx)
                    : Status(make_error("no interface " + ifname));
    if (!st) LOG_WARN("route replace %s dev %s failed: %s", r.text().c_str(), ifname.c_str(), st.error().c_str());
    return st.ok();
}

void NetlinkRouteInstaller::remove(const Route& r, const std::string& ifname) {
    const unsigned idx = if_nametoindex(ifname.c_str());
    if (!idx) return;  // the interface is gone, and its routes with it
    Status st = nl_.apply(RouteOp::Delete, r.network, r.prefix_len, idx);
    if (!st) LOG_DEBUG("route del %s dev %s: %s", r.text().c_str(), ifname.c_str(), st.error().c_str());
}

void RouteSync::sync(const std::vector<Peer>& peers, uint32_t tun_addr, uint32_t tun_mask, const std::string& ifname) {
    const std::set<Route> want = wanted_routes(peers, tun_addr, tun_mask);
    for (auto it = installed_.begin(); it != installed_.end();) {
        if (want.count(*it)) {
            ++it;
            continue;
        }
        installer_.remove(*it, ifname);
        LOG_INFO("route %s dev %s removed", it->text().c_str(), ifname.c_str());
        it = installed_.erase(it);
    }
    for (const Route& r : want) {
        if (installed_.count(r)) continue;
        if (installer_.replace(r, ifname)) {
            LOG_INFO("route %s dev %s added", r.text().c_str(), ifname.c_str());
            installed_.insert(r);
        }
    }
}

void RouteSync::remove_all(const std::string& ifname) {
    for (const Route& r : installed_) {
        installer_.remove(r, ifname);
        LOG_INFO("route %s dev %s removed", r.text().c_str(), ifname.c_str());
    }
    installed_.clear();
}

}  // namespace rustun::client
