#include "config/fleet_reader.hpp"

#include <charconv>

#include "etcd/etcd_endpoint.hpp"

namespace rustun::config_yaml {

namespace {

constexpr KeyNames kFleetKeys = child_keys("fleet");
constexpr KeyNames kTlsKeys = child_keys("fleet.tls");
constexpr KeyNames kLinkKeys = child_keys("fleet.link");

bool gateway_id_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

Result<std::string> read_gateway_id(const YamlReader& r, const Fields& f) {
    auto e = r.required(f, "gateway_id", "a gateway name such as gw-1");
    if (!e.ok()) return Error{e.error()};
    auto id = r.string(**e, "fleet.gateway_id");
    if (!id.ok()) return id;
    bool ok = !id->empty() && id->size() <= 64;
    for (char c : *id) ok = ok && gateway_id_char(c);
    if (!ok)
        return error_at(r.at(**e, "fleet.gateway_id"),
                        "expected 1..64 characters of A-Z a-z 0-9 . _ - (it is part of etcd keys), got " +
                            quote_for_error(*id));
    return id;
}

Result<std::vector<std::string>> read_endpoints(const YamlReader& r, const Fields& f, bool& tls) {
    auto e = r.required(f, "etcd", "a list of etcd URLs such as [http://127.0.0.1:2379]");
    if (!e.ok()) return Error{e.error()};
    auto items = r.list(**e, "fleet.etcd");
    if (!items.ok()) return Error{items.error()};
    if (items->empty())
        return error_at(r.at(**e, "fleet.etcd"), "expected at least one etcd URL such as http://127.0.0.1:2379");
    std::vector<std::string> out;
    for (size_t i = 0; i < items->size(); ++i) {
        const YAML::Node& n = (*items)[i];
        const std::string path = index_path("fleet.etcd", i);
        if (!n.IsScalar())
            return error_at(r.at(n, path, &(*e)->key), std::string("expected an etcd URL, got ") + kind_of(n));
        auto ep = etcd::parse_endpoint(n.Scalar());
        if (!ep.ok()) return error_at(r.at(n, path), ep.error());
        if (i > 0 && ep->tls != tls)
            return error_at(r.at(n, path), "mixes http:// and https:// endpoints: use one scheme for the cluster");
        tls = ep->tls;
        out.push_back(n.Scalar());
    }
    return out;
}

Result<FleetTlsConfig> read_tls(const YamlReader& r, const Fields::Entry& e, bool https) {
    auto f = r.map(e.value, "fleet.tls", kTlsKeys, &e.key);
    if (!f.ok()) return Error{f.error()};
    if (!https)
        return error_at(r.at(e, "fleet.tls"), "set, but fleet.etcd lists http:// endpoints: TLS needs https://");
    FleetTlsConfig out;
    for (auto [key, field] : {std::pair{"ca", &out.ca}, {"cert", &out.cert}, {"key", &out.key}}) {
        const auto* v = f->get(key);
        if (v == nullptr) continue;
        auto s = r.nonempty_string(*v, join("fleet.tls", key), "a path", "expected a non-empty path");
        if (!s.ok()) return Error{s.error()};
        *field = *s;
    }
    if (out.cert.empty() != out.key.empty())
        return error_at(r.at(e, "fleet.tls"),
                        "a client certificate needs both cert and key (only " +
                            std::string(out.cert.empty() ? "key" : "cert") + " is set)");
    return out;
}

Result<std::string> read_prefix(const YamlReader& r, const Fields::Entry& e) {
    auto s = r.string(e, "fleet.prefix");
    if (!s.ok()) return s;
    bool ok = s->size() >= 2 && s->front() == '/' && s->back() != '/';
    for (char c : *s) ok = ok && c > ' ' && c < 127;
    if (!ok)
        return error_at(r.at(e, "fleet.prefix"),
                        "expected a key prefix starting with '/' and not ending with '/', printable ASCII "
                        "without spaces (e.g. /rustun/v1), got " + quote_for_error(*s));
    return s;
}

Result<FleetLinkConfig> read_link(const YamlReader& r, const Fields& fleet) {
    auto e = r.required(fleet, "link", "a mapping with listen and key");
    if (!e.ok()) return Error{e.error()};
    auto f = r.map((*e)->value, "fleet.link", kLinkKeys, &(*e)->key);
    if (!f.ok()) return Error{f.error()};
    FleetLinkConfig out;
    auto listen = r.required(*f, "listen", "\"a.b.c.d:port\" or \"[ipv6]:port\"");
    if (!listen.ok()) return Error{listen.error()};
    auto addr = read_socket_address(r, **listen, "fleet.link.listen");
    if (!addr.ok()) return Error{addr.error()};
    out.listen = *addr;
    auto key = r.required(*f, "key", "\"aes256:SECRET\" or \"chacha20:SECRET\"");
    if (!key.ok()) return Error{key.error()};
    auto text = r.string(**key, "fleet.link.key", "a cipher such as \"aes256:SECRET\"");
    if (!text.ok()) return Error{text.error()};
    auto spec = CipherSpec::parse(*text);
    if (!spec.ok()) return error_at(r.at(**key, "fleet.link.key"), spec.error());
    if (spec->method != CipherMethod::Aes256Gcm && spec->method != CipherMethod::ChaCha20Poly1305)
        return error_at(r.at(**key, "fleet.link.key"),
                        std::string("expected an AEAD (aes256:SECRET or chacha20:SECRET): the link key "
                                    "authenticates fleet members, ") + cipher_method_name(spec->method) + " cannot");
    if (spec->key.empty())
        return error_at(r.at(**key, "fleet.link.key"), "empty key: anyone could join the fleet's link");
    out.key = std::move(spec).value();
    return out;
}

}  // namespace

Result<std::chrono::seconds> parse_lease_ttl(std::string_view text) {
    auto fail = [&] {
        return Error{"expected a whole number of seconds from " + std::to_string(FleetConfig::kMinLeaseTtl.count()) +
                     "s to " + std::to_string(FleetConfig::kMaxLeaseTtl.count()) + "s such as 10s or 1m, got " +
                     quote_for_error(text)};
    };
    uint64_t unit = 1;
    std::string_view digits = text;
    if (digits.ends_with("s")) {
        digits.remove_suffix(1);
    } else if (digits.ends_with("m")) {
        digits.remove_suffix(1);
        unit = 60;
    }
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || n > 100'000) return fail();
    const std::chrono::seconds ttl(static_cast<int64_t>(n * unit));
    if (ttl < FleetConfig::kMinLeaseTtl || ttl > FleetConfig::kMaxLeaseTtl) return fail();
    return ttl;
}

Result<FleetConfig> read_fleet(const YamlReader& r, const Fields::Entry& e) {
    auto f = r.map(e.value, "fleet", kFleetKeys, &e.key);
    if (!f.ok()) return Error{f.error()};
    FleetConfig out;
    auto id = read_gateway_id(r, *f);
    if (!id.ok()) return Error{id.error()};
    out.gateway_id = *id;
    bool https = false;
    auto endpoints = read_endpoints(r, *f, https);
    if (!endpoints.ok()) return Error{endpoints.error()};
    out.etcd = std::move(endpoints).value();
    if (const auto* v = f->get("tls"); v != nullptr) {
        auto tls = read_tls(r, *v, https);
        if (!tls.ok()) return Error{tls.error()};
        out.tls = std::move(tls).value();
    }
    if (const auto* v = f->get("prefix"); v != nullptr) {
        auto prefix = read_prefix(r, *v);
        if (!prefix.ok()) return Error{prefix.error()};
        out.prefix = *prefix;
    }
    if (const auto* v = f->get("lease_ttl"); v != nullptr) {
        if (!v->value.IsScalar())
            return error_at(r.at(*v, "fleet.lease_ttl"), std::string("expected a duration such as 10s, got ") +
                                                             kind_of(v->value));
        auto ttl = parse_lease_ttl(v->value.Scalar());
        if (!ttl.ok()) return error_at(r.at(*v, "fleet.lease_ttl"), ttl.error());
        out.lease_ttl = *ttl;
    }
    auto link = read_link(r, *f);
    if (!link.ok()) return Error{link.error()};
    out.link = std::move(link).value();
    return out;
}

}  // namespace rustun::config_yaml
