#include "peer_table.hpp"

#include <algorithm>

#include "util/log.hpp"
#include "sys.hpp"

namespace rustun::client {

Peer* PeerTable::find(std::string_view identity) {
    for (Peer& p : peers_)
        if (p.identity == identity) return &p;
    return nullptr;
}

Peer* PeerTable::for_ip(uint32_t ip) {
    Peer* best = nullptr;
    int best_len = -1;
    for (Peer& p : peers_) {
        if (p.private_ip == ip) return &p;
        for (const Ipv4Cidr& c : p.ciders)
            if (c.contains(Ipv4Addr{ip}) && (int)c.prefix_len > best_len) {
                best = &p;
                best_len = c.prefix_len;
            }
    }
    return best;
}

Peer* PeerTable::at_address(const sockaddr_in6& a) {
    for (Peer& p : peers_)
        if (p.has_addr && same_endpoint(p.addr, a)) return &p;
    return nullptr;
}

bool PeerTable::apply_list(const std::vector<PeerDetail>& list, bool authoritative, PeerAddressSink& sink) {
    bool changed_routes = false;
    std::vector<Peer> next;
    std::vector<std::string> old_ids;  // peers_ entries are moved into `next` below
    if (authoritative) {
        next.reserve(list.size());
        for (const Peer& p : peers_) old_ids.push_back(p.identity);
    }
    for (const PeerDetail& d : list) {
        if (d.identity == own_identity_) continue;
        auto ip = parse_ipv4(d.private_ip);
        if (!ip) continue;
        Peer fresh;
        Peer* p = find(d.identity);
        if (!p) {
            fresh.identity = d.identity;
            p = &fresh;
            LOG_INFO("peer '%s' (%s) added%s", d.identity.c_str(), d.private_ip.c_str(),
                      d.ipv6.empty() ? "" : (", advertised at " + endpoint_text(d.ipv6, d.port)).c_str());
        }
        p->name = d.name;
        p->gw_last_active = d.last_active;
        if (p->private_ip_text != d.private_ip || p->cider_texts != d.ciders) {
            p->private_ip_text = d.private_ip;
            p->private_ip = ip->value;
            p->cider_texts = d.ciders;
            p->ciders.clear();
            for (const auto& c : d.ciders)
                if (auto pc = parse_ipv4_cidr(c)) p->ciders.push_back(*pc);
            changed_routes = true;
        }
        // A non-empty advertised address that differs from the known one replaces it; an empty
        // one (peer offline or without an address source) leaves a learned address alone.
        if (!d.ipv6.empty() && (d.ipv6 != p->adv_ip || d.port != p->adv_port)) {
            const bool known = !p->adv_ip.empty();
            sink.set_advertised(*p, d.ipv6, d.port, known, known ? "address changed" : "address advertised");
        } else if (d.ipv6.empty()) {
            p->adv_ip.clear();
            p->adv_port = 0;
        }
        if (authoritative) {
            next.push_back(std::move(*p));
        } else if (p == &fresh) {
            peers_.push_back(std::move(fresh));
            changed_routes = true;
        }
    }
    if (authoritative) {
        for (const std::string& id : old_ids) {
            if (std::none_of(next.begin(), next.end(), [&](const Peer& p) { return p.identity == id; }))
                LOG_INFO("peer '%s' removed (not in the new HandshakeReply)", id.c_str());
        }
        peers_ = std::move(next);
    }
    return changed_routes || authoritative;
}

void PeerTable::apply_update(const PeerUpdate& u, PeerAddressSink& sink) {
    Peer* p = find(u.identity);
    if (!p) {
        LOG_DEBUG("PeerUpdate for unknown peer '%s' ignored", u.identity.c_str());
        return;
    }
    LOG_INFO("PeerUpdate: '%s' now at %s", u.identity.c_str(),
              u.ipv6.empty() ? "(no address)" : endpoint_text(u.ipv6, u.port).c_str());
    if (u.ipv6.empty()) {
        p->adv_ip.clear();
        p->adv_port = 0;
        return;
    }
    sink.set_advertised(*p, u.ipv6, u.port, true, "PeerUpdate");
}

}  // namespace rustun::client
