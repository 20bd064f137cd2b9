#include "membership.hpp"

#include "dataplane_delta.hpp"

#include <map>

#include "routing/route_table_from_config.hpp"
#include "util/clock.hpp"

namespace rustun::cp {

void reset_runtime(ClientRuntime& rt) { rt = ClientRuntime{}; }

Result<std::unique_ptr<Membership>> Membership::build(const GatewayConfig& cfg) {
    auto m = std::make_unique<Membership>();
    std::map<std::string, std::shared_ptr<const CipherKey>> keys;  // by canonical spec text
    for (const ClusterConfig& cc : cfg.clusters) {
        std::string spec_text = cc.crypto.to_string();
        auto it = keys.find(spec_text);
        if (it == keys.end()) {
            auto key = CipherKey::create(cc.crypto);
            if (!key) return make_error("cluster '" + cc.name + "': " + key.error());
            it = keys.emplace(spec_text, std::shared_ptr<const CipherKey>(std::move(key.value()))).first;
        }
        ClusterEntry ce;
        ce.name = cc.name;
        ce.key = it->second;
        ce.first = static_cast<ClientId>(m->clients.size());
        ce.count = static_cast<uint32_t>(cc.clients.size());
        const ClusterId cid = static_cast<ClusterId>(m->clusters.size());
        for (const ClientConfig& c : cc.clients) {
            ClientEntry e;
            e.cfg = c;
            e.cluster = cid;
            m->by_identity_.emplace(c.identity, static_cast<ClientId>(m->clients.size()));
            m->clients.push_back(std::move(e));
        }
        m->clusters.push_back(std::move(ce));
    }
    m->routes = build_route_table(cfg);
    number_densely(*m);
    for (int pass = 0; pass < 3; ++pass) {
        for (auto& [text, key] : keys) {
            int rank = key->is_aead() ? 0 : key->method() == CipherMethod::Xor ? 1 : 2;
            if (rank == pass) m->trial_keys.push_back(key);
        }
    }
    std::vector<const CipherKey*> cluster_keys;
    for (const ClusterEntry& ce : m->clusters) cluster_keys.push_back(ce.key.get());
    m->auth.build(m->trial_keys, cluster_keys);
    return m;
}

std::vector<std::vector<std::string>> clusters_sharing_a_key(const GatewayConfig& cfg) {
    std::vector<std::vector<std::string>> groups;
    std::vector<const CipherSpec*> specs;  // spec of groups[i]
    for (const ClusterConfig& cc : cfg.clusters) {
        if (cc.crypto.method == CipherMethod::Plain) continue;  // no key to share
        size_t i = 0;
        while (i < specs.size() && !(*specs[i] == cc.crypto)) ++i;
        if (i == specs.size()) {
            specs.push_back(&cc.crypto);
            groups.emplace_back();
        }
        groups[i].push_back(cc.name);
    }
    std::vector<std::vector<std::string>> out;
    for (auto& g : groups)
        if (g.size() > 1) out.push_back(std::move(g));
    return out;
}

std::vector<std::string> shared_key_warnings(const GatewayConfig& cfg) {
    std::vector<std::string> lines;
    for (const auto& g : clusters_sharing_a_key(cfg)) {
        std::string names;
        for (const auto& n : g) names += (names.empty() ? "'" : ", '") + n + "'";
        const ClusterConfig* first = cfg.find_cluster(g.front());
        lines.push_back("clusters " + names + " share one key (" + cipher_method_name(first->crypto.method) +
                        "): each client lands in its own identity's cluster, but a client of one of them can "
                        "read and forge the others' frames");
    }
    return lines;
}

ClientId Membership::find(std::string_view identity) const {
    auto it = by_identity_.find(std::string(identity));
    return it == by_identity_.end() ? kNoClient : it->second;
}

ClientId Membership::client_for(std::string_view identity, const CipherKey& key) const {
    const ClientId id = find(identity);
    if (id == kNoClient || clusters[clients[id].cluster].key->spec() != key.spec()) return kNoClient;
    return id;
}

bool Membership::apply_keepalive(ClientId self, const KeepAlive& ka) {
    ClientRuntime& rt = clients[self].rt;
    const bool moved = rt.ipv6 != ka.ipv6 || rt.port != ka.port;
    rt.ipv6 = ka.ipv6;
    rt.port = ka.port;
    rt.stun_ip = ka.stun_ip;
    rt.stun_port = ka.stun_port;
    rt.last_active = realtime_s();
    return moved;
}

size_t Membership::online_count() const {
    size_t n = 0;
    for (const auto& c : clients) n += c.rt.conn != nullptr;
    return n;
}

namespace {

PeerDetail configured_peer(const ClientEntry& e) {
    PeerDetail p;
    p.name = e.cfg.name;
    p.identity = e.cfg.identity;
    p.private_ip = e.cfg.private_ip.to_string();
    p.ciders.reserve(e.cfg.ciders.size());
    for (const auto& c : e.cfg.ciders) p.ciders.push_back(c.to_string());
    return p;
}

void set_remote_endpoint(PeerDetail& p, const RemoteClient& r) {
    p.ipv6 = r.ipv6;
    p.port = r.port;
    p.stun_ip = r.stun_ip;
    p.stun_port = r.stun_port;
    p.last_active = r.last_active;
}

}  // namespace

void Membership::peers_of(ClientId self, uint32_t cap, std::vector<PeerDetail>& out, bool& capped,
                          const FleetSnapshot* fleet) const {
    out.clear();
    capped = false;
    const ClusterEntry& cl = clusters[clients[self].cluster];
    if (fleet && !fleet->has_cluster(cl.name)) fleet = nullptr;  // no remote client of this cluster
    auto remote_of = [&](const ClientEntry& e) -> const RemoteClient* {
        return fleet && !e.rt.conn ? fleet->find(cl.name, e.cfg.identity) : nullptr;
    };
    for (int online_pass = 1; online_pass >= 0; --online_pass) {
        for (ClientId id = cl.first; id < cl.first + cl.count; ++id) {
            if (id == self) continue;
            const ClientEntry& e = clients[id];
            const RemoteClient* remote = remote_of(e);
            if ((e.rt.conn != nullptr || remote != nullptr) != (online_pass == 1)) continue;
            if (out.size() >= cap) {
                capped = true;
                return;
            }
            PeerDetail p = configured_peer(e);
            if (e.rt.conn) {
                p.ipv6 = e.rt.ipv6;
                p.port = e.rt.port;
                p.stun_ip = e.rt.stun_ip;
                p.stun_port = e.rt.stun_port;
                p.last_active = e.rt.last_active;
            } else if (remote) {
                set_remote_endpoint(p, *remote);
            }
            out.push_back(std::move(p));
        }
        if (online_pass == 1 && fleet) {
            // Remote clients this gateway's configuration does not have (configurations differ).
            bool full = false;
            fleet->for_each_in_cluster(cl.name, [&](const RemoteClient& r) {
                if (full || find(r.identity) != kNoClient) return;
                if (out.size() >= cap) {
                    capped = full = true;
                    return;
                }
                PeerDetail p;
                p.identity = r.identity;
                p.private_ip = r.private_ip.to_string();
                for (const auto& c : r.ciders) p.ciders.push_back(c.to_string());
                set_remote_endpoint(p, r);
                out.push_back(std::move(p));
            });
            if (full) return;
        }
    }
}

}  // namespace rustun::cp
