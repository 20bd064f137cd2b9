#include "config/client_checks.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>
#include <unordered_map>

namespace rustun {

std::string LocatedClient::entry_path() const {
    std::string p = yaml_cluster == kRoutesJson ? std::string() : "clusters[" + std::to_string(yaml_cluster) + "].clients";
    return p.append(1, '[').append(std::to_string(index)).append(1, ']');
}

SourceRef LocatedClient::cluster_at() const {
    std::string path = yaml_cluster == kRoutesJson ? entry_path() + ".cluster"
                                                   : "clusters[" + std::to_string(yaml_cluster) + "].name";
    return SourceRef{file ? *file : std::string(), cluster_pos.line, cluster_pos.column, std::move(path)};
}

SourceRef LocatedClient::identity_at() const {
    return SourceRef{file ? *file : std::string(), identity_pos.line, identity_pos.column, entry_path() + ".identity"};
}

SourceRef LocatedClient::private_ip_at() const {
    return SourceRef{file ? *file : std::string(), private_ip_pos.line, private_ip_pos.column,
                     entry_path() + ".private_ip"};
}

Result<Ipv4Addr> check_ipv4_field(std::string_view text, const SourceRef& at) {
    if (auto a = parse_ipv4(text)) return *a;
    return error_at(at, "expected an IPv4 address a.b.c.d (decimal octets 0..255, no leading "
                        "zeros), got " + quote_for_error(text));
}

Result<Ipv4Addr> check_netmask_field(std::string_view text, const SourceRef& at) {
    auto a = parse_ipv4(text);
    if (!a)
        return error_at(at, "expected a netmask a.b.c.d such as 255.255.255.0, got " +
                                quote_for_error(text));
    if (!netmask_prefix_len(*a))
        return error_at(at, "expected a contiguous netmask (leading one bits, e.g. "
                            "255.255.255.0), got " + quote_for_error(text));
    return *a;
}

Result<Ipv4Cidr> check_cidr_field(std::string_view text, const SourceRef& at) {
    if (auto c = parse_ipv4_cidr(text)) return *c;
    return error_at(at, "expected an IPv4 CIDR a.b.c.d/n with n 0..32, got " +
                            quote_for_error(text));
}

Result<CipherSpec> check_crypto_field(std::string_view text, const SourceRef& at) {
    auto spec = CipherSpec::parse(text);
    if (!spec.ok()) return error_at(at, spec.error());  // CipherSpec says what it expects
    return std::move(spec).value();
}

Status check_nonempty_field(std::string_view text, const SourceRef& at) {
    if (text.empty()) return error_at(at, "must not be empty");
    return Status::success();
}

Status check_unique_clients(std::span<const LocatedClient> clients) {
    // O(n log n) for n clients without an allocation per client (a million clients in hash maps
    // of nodes cost more in malloc than in hashing): (key, index) pairs are sorted, and each run
    // of equal keys is a duplicate whose second index is where the error is reported. The error
    // is the one a walk in order would meet first: the smallest such index, the identity's
    // before the private_ip's of the same client.
    constexpr size_t kNone = SIZE_MAX;
    const size_t n = clients.size();
    // Identities: sorted by (hash, index); equal hashes are compared as strings.
    std::vector<std::pair<uint64_t, uint32_t>> ids(n);
    const std::hash<std::string_view> hash;
    for (size_t i = 0; i < n; ++i) ids[i] = {hash(clients[i].client.identity), static_cast<uint32_t>(i)};
    std::sort(ids.begin(), ids.end());
    size_t dup_id = kNone, dup_id_first = kNone;
    for (size_t a = 0; a < n;) {
        size_t b = a + 1;
        while (b < n && ids[b].first == ids[a].first) ++b;
        for (size_t x = a; x < b; ++x)      // a run of one hash: tiny unless the hash collides
            for (size_t y = x + 1; y < b; ++y) {
                const uint32_t first = ids[x].second, later = ids[y].second;  // first < later
                if (later < dup_id && clients[first].client.identity == clients[later].client.identity) {
                    dup_id = later;
                    dup_id_first = first;
                }
            }
        a = b;
    }
    // Private IPs: (cluster ordinal << 32 | private IP, index), sorted.
    std::unordered_map<std::string_view, uint64_t> cluster_ordinal;  // cluster name -> 0, 1, ...
    std::vector<std::pair<uint64_t, uint32_t>> ips(n);
    for (size_t i = 0; i < n; ++i) {
        const uint64_t ordinal = cluster_ordinal.emplace(clients[i].cluster, cluster_ordinal.size()).first->second;
        ips[i] = {ordinal << 32 | clients[i].client.private_ip.value, static_cast<uint32_t>(i)};
    }
    std::sort(ips.begin(), ips.end());
    size_t dup_ip = kNone, dup_ip_first = kNone;
    for (size_t a = 1; a < n; ++a)
        if (ips[a].first == ips[a - 1].first && (a == 1 || ips[a - 2].first != ips[a].first) && ips[a].second < dup_ip) {
            dup_ip = ips[a].second;  // the second of its run: the first run member is the earliest
            dup_ip_first = ips[a - 1].second;
        }

    if (dup_id != kNone && dup_id <= dup_ip) {
        const LocatedClient& lc = clients[dup_id];
        return error_at(lc.identity_at(), "duplicate identity " + quote_for_error(lc.client.identity) +
                                              " (first defined at " + clients[dup_id_first].identity_at().to_string() +
                                              "); identities must be unique across all clusters");
    }
    if (dup_ip != kNone) {
        const LocatedClient& lc = clients[dup_ip];
        const LocatedClient& first = clients[dup_ip_first];
        return error_at(lc.private_ip_at(),
                        "private_ip " + lc.client.private_ip.to_string() + " is already used in cluster " +
                            quote_for_error(lc.cluster) + " by identity " + quote_for_error(first.client.identity) +
                            " (" + first.private_ip_at().to_string() + ")");
    }
    return Status::success();
}

}  // namespace rustun
