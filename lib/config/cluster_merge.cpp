#include "config/cluster_merge.hpp"

#include <unordered_map>
#include <utility>

namespace rustun {

Result<std::vector<ClusterConfig>> merge_clusters(std::vector<LocatedClient> imported,
                                                  std::vector<InlineCluster> inline_clusters,
                                                  const CipherSpec& default_crypto) {
    // Cluster name -> index into `groups`, in final order.
    std::unordered_map<std::string, size_t> index_of;
    struct Group {
        ClusterConfig config;
        std::vector<LocatedClient> clients;
        const InlineCluster* inline_def = nullptr;
    };
    std::vector<Group> groups;
    auto group_for = [&](const std::string& name) -> Group& {
        auto [it, fresh] = index_of.emplace(name, groups.size());
        if (fresh) {
            groups.emplace_back();
            groups.back().config.name = name;
            groups.back().config.crypto = default_crypto;
        }
        return groups[it->second];
    };

    for (LocatedClient& lc : imported) group_for(lc.cluster).clients.push_back(std::move(lc));
    for (InlineCluster& ic : inline_clusters) {
        Group& g = group_for(ic.name);
        if (g.inline_def != nullptr)
            return error_at(ic.name_at, "duplicate cluster name " + quote_for_error(ic.name) +
                                            " (first defined at " +
                                            g.inline_def->name_at.to_string() + ")");
        g.inline_def = &ic;
        if (ic.crypto) {
            g.config.crypto = *ic.crypto;
            g.config.crypto_overridden = true;
        }
        for (LocatedClient& lc : ic.clients) g.clients.push_back(std::move(lc));
    }

    std::vector<LocatedClient> all;
    size_t total = 0;
    for (const Group& g : groups) total += g.clients.size();
    all.reserve(total);
    for (Group& g : groups)
        for (LocatedClient& lc : g.clients) all.push_back(std::move(lc));
    if (auto st = check_unique_clients(all); !st) return Error{st.error()};

    std::vector<ClusterConfig> out;
    out.reserve(groups.size());
    size_t next = 0;
    for (Group& g : groups) {
        g.config.clients.reserve(g.clients.size());
        for (size_t i = 0; i < g.clients.size(); ++i)
            g.config.clients.push_back(std::move(all[next++].client));
        g.clients = {};
        out.push_back(std::move(g.config));
    }
    return out;
}

}  // namespace rustun
