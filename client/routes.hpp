// The kernel routes towards our peers through the TUN device: one per peer CIDR (network form)
// and one /32 per peer whose private IP lies outside our own subnet (docs/client.md, "Relay
// session"). sync() diffs the wanted set against what we installed; routes the kernel dropped
// with an address change are forgotten; remove_all() runs at shutdown.
#pragma once

#include <compare>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "netlink_route.hpp"
#include "peer_table.hpp"

namespace rustun::client {

struct Route {
    uint32_t network = 0;  // host order, host bits zero
    uint8_t prefix_len = 0;
    auto operator<=>(const Route&) const = default;
    std::string text() const;  // "a.b.c.d/len"
};

// The routes our peers need, given our TUN address and mask (host order).
std::set<Route> wanted_routes(const std::vector<Peer>& peers, uint32_t tun_addr, uint32_t tun_mask);

// Where routes are installed (rtnetlink in the process, a recorder in tests).
class RouteInstaller {
public:
    virtual ~RouteInstaller() = default;
    // True when the route is in place.
    virtual bool replace(const Route& r, const std::string& ifname) = 0;
    virtual void remove(const Route& r, const std::string& ifname) = 0;
};

class NetlinkRouteInstaller final : public RouteInstaller {
public:
    bool replace(const Route& r, const std::string& ifname) override;
    void remove(const Route& r, const std::string& ifname) override;

private:
    RouteNetlink nl_;
};

class RouteSync {
public:
    explicit RouteSync(RouteInstaller& installer) : installer_(installer) {}

    void sync(const std::vector<Peer>& peers, uint32_t tun_addr, uint32_t tun_mask, const std::string& ifname);
    // The kernel removed our routes (the TUN was re-addressed).
    void forget() { installed_.clear(); }
    void remove_all(const std::string& ifname);
    const std::set<Route>& installed() const { return installed_; }

private:
    RouteInstaller& installer_;
    std::set<Route> installed_;
};

}  // namespace rustun::client
