#include "config/client_checks.hpp"

#include <cstdint>
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
    // O(n) expected for n clients: one hash lookup per identity and per (cluster, private IP).
    std::unordered_map<std::string_view, const LocatedClient*> by_identity;
    std::unordered_map<std::string_view, uint64_t> cluster_ordinal;  // cluster name -> 0, 1, ...
    // (cluster ordinal << 32 | private IP) -> first client using it
    std::unordered_map<uint64_t, const LocatedClient*> by_ip;
    by_identity.reserve(clients.size());
    by_ip.reserve(clients.size());
    for (const LocatedClient& lc : clients) {
        auto [it, fresh] = by_identity.emplace(lc.client.identity, &lc);
        if (!fresh)
            return error_at(lc.identity_at(),
                            "duplicate identity " + quote_for_error(lc.client.identity) +
                                " (first defined at " + it->second->identity_at().to_string() +
                                "); identities must be unique across all clusters");
        const uint64_t ordinal = cluster_ordinal.emplace(lc.cluster, cluster_ordinal.size()).first->second;
        auto [ip_it, ip_fresh] = by_ip.emplace(ordinal << 32 | lc.client.private_ip.value, &lc);
        if (!ip_fresh)
            return error_at(lc.private_ip_at(),
                            "private_ip " + lc.client.private_ip.to_string() +
                                " is already used in cluster " + quote_for_error(lc.cluster) +
                                " by identity " + quote_for_error(ip_it->second->client.identity) +
                                " (" + ip_it->second->private_ip_at().to_string() + ")");
    }
    return Status::success();
}

}  // namespace rustun
