#include "dataplane_delta.hpp"

#include <string_view>
#include <unordered_map>

#include "util/log.hpp"

namespace rustun::cp {

namespace {

// A numbering may hand out at most this many ids beyond twice the configured count before it
// is compacted (each id of a removed client or cluster stays unused until the next full sync).
constexpr size_t kIdSlack = 1024;

bool same_for_dataplane(const ClientEntry& a, uint32_t a_cluster, const ClientEntry& b, uint32_t b_cluster) {
    return a_cluster == b_cluster && a.cfg.private_ip.value == b.cfg.private_ip.value && a.cfg.ciders == b.cfg.ciders;
}

bool same_cipher(const ClusterEntry& a, const ClusterEntry& b) { return a.key->spec() == b.key->spec(); }

}  // namespace

void number_densely(Membership& m) {
    DataplaneIds& d = m.dp;
    d.client.resize(m.clients.size());
    d.client_of.resize(m.clients.size());
    for (ClientId i = 0; i < m.clients.size(); ++i) d.client[i] = d.client_of[i] = i;
    d.cluster.resize(m.clusters.size());
    for (ClusterId i = 0; i < m.clusters.size(); ++i) d.cluster[i] = i;
    d.next_cluster = static_cast<uint32_t>(m.clusters.size());
}

StateDelta carry_dataplane_ids(const Membership& old, Membership& fresh, std::span<const ClientId> old_of_new,
                               const std::vector<bool>& rekeyed) {
    StateDelta delta;
    DataplaneIds& d = fresh.dp;
    // Clusters by name.
    std::unordered_map<std::string_view, ClusterId> old_cluster;
    old_cluster.reserve(old.clusters.size());
    for (ClusterId i = 0; i < old.clusters.size(); ++i) old_cluster.emplace(old.clusters[i].name, i);
    d.cluster.assign(fresh.clusters.size(), 0);
    d.next_cluster = old.dp.next_cluster;
    for (ClusterId i = 0; i < fresh.clusters.size(); ++i) {
        auto it = old_cluster.find(fresh.clusters[i].name);
        if (it == old_cluster.end()) {
            d.cluster[i] = d.next_cluster++;
            delta.cluster_sets.push_back(i);
            continue;
        }
        d.cluster[i] = old.dp.cluster[it->second];
        if (!same_cipher(old.clusters[it->second], fresh.clusters[i])) delta.cluster_sets.push_back(i);
    }
    // Clients by identity (old_of_new); a removed client's id is not handed out again.
    d.client.assign(fresh.clients.size(), 0);
    d.client_of.assign(old.dp.client_of.size(), kNoClient);
    std::vector<bool> kept(old.clients.size(), false);
    for (ClientId n = 0; n < fresh.clients.size(); ++n) {
        const ClientId o = old_of_new[n];
        const uint32_t nc = d.cluster[fresh.clients[n].cluster];
        if (o == kNoClient) {
            d.client[n] = static_cast<uint32_t>(d.client_of.size());
            d.client_of.push_back(n);
            delta.client_sets.push_back(n);
            continue;
        }
        kept[o] = true;
        d.client[n] = old.dp.client[o];
        d.client_of[d.client[n]] = n;
        if (!same_for_dataplane(old.clients[o], old.dp.cluster[old.clients[o].cluster], fresh.clients[n], nc))
            delta.client_sets.push_back(n);
        if (rekeyed[n]) delta.endpoint_clears.push_back(d.client[n]);
    }
    for (ClientId o = 0; o < old.clients.size(); ++o)
        if (!kept[o]) delta.removes.push_back(old.dp.client[o]);
    if (d.client_of.size() > 2 * fresh.clients.size() + kIdSlack ||
        d.next_cluster > 2 * fresh.clusters.size() + kIdSlack) {
        number_densely(fresh);
        return StateDelta{.full = true};
    }
    return delta;
}

bool push_cluster(shm::StateWriter& w, const Membership& m, ClusterId c) {
    const ClusterEntry& ce = m.clusters[c];
    const std::vector<uint8_t>& key = ce.key->spec().derived_key();  // empty for plain
    if (key.size() > shm::ClusterSetMsg::kMaxKey)
        LOG_ERROR("cluster '%s': XOR key longer than %u bytes cannot be given to the dataplane", ce.name.c_str(),
                  shm::ClusterSetMsg::kMaxKey);
    return w.cluster_set(m.dp.cluster[c], static_cast<uint8_t>(ce.key->method()), key, ce.name);
}

bool push_client(shm::StateWriter& w, const Membership& m, ClientId c, std::vector<shm::Cidr>& cidrs) {
    const ClientEntry& e = m.clients[c];
    cidrs.clear();
    for (const auto& cidr : e.cfg.ciders) cidrs.push_back(shm::Cidr{cidr.network(), cidr.prefix_len, {}});
    return w.client_set(m.dp.client[c], m.dp.cluster[e.cluster], e.cfg.private_ip.value, cidrs);
}

bool push_configured(shm::StateWriter& w, const Membership& m) {
    for (ClusterId c = 0; c < m.clusters.size(); ++c)
        if (!push_cluster(w, m, c)) return false;
    std::vector<shm::Cidr> cidrs;
    for (ClientId c = 0; c < m.clients.size(); ++c)
        if (!push_client(w, m, c, cidrs)) return false;
    return true;
}

bool push_delta(shm::StateWriter& w, const Membership& fresh, const StateDelta& d) {
    if (d.empty()) return true;
    std::vector<shm::Cidr> cidrs;
    for (ClusterId c : d.cluster_sets)
        if (!push_cluster(w, fresh, c)) return false;
    for (uint32_t id : d.removes)
        if (!w.client_remove(id)) return false;
    for (ClientId c : d.client_sets)
        if (!push_client(w, fresh, c, cidrs)) return false;
    for (uint32_t id : d.endpoint_clears)
        if (!w.endpoint_clear(id)) return false;
    return w.commit();
}

}  // namespace rustun::cp
