#include "config/yaml_loader.hpp"

#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <array>
#include <exception>
#include <filesystem>
#include <span>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include "config/cluster_merge.hpp"
#include "config/config_keys.hpp"
#include "config/read_text_file.hpp"
#include "config/routes_json.hpp"

namespace rustun {

namespace {

// Propagates the error of a Result/Status expression out of a function returning Result/Status.
#define RUSTUN_TRY_ASSIGN(var, expr)                            \
    auto var##_result = (expr);                                 \
    if (!var##_result.ok()) return Error{var##_result.error()}; \
    auto var = std::move(var##_result).value()
#define RUSTUN_TRY(expr)                                          \
    do {                                                          \
        auto try_status_ = (expr);                                \
        if (!try_status_.ok()) return Error{try_status_.error()}; \
    } while (0)

std::string join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
}
std::string index_path(const std::string& path, size_t i) {
    return path + "[" + std::to_string(i) + "]";
}

const char* kind_of(const YAML::Node& n) {
    if (n.IsNull()) return "an empty value";
    if (n.IsSequence()) return "a list";
    if (n.IsMap()) return "a mapping";
    if (n.IsScalar()) return "a scalar";
    return "nothing";
}

// A mapping whose keys were checked: each key appears once and is one of the known keys.
class Fields {
public:
    struct Entry {
        YAML::Node key;
        YAML::Node value;
    };

    const YAML::Node& node() const { return node_; }
    const std::string& path() const { return path_; }
    const Entry* get(std::string_view key) const {
        for (const auto& [k, e] : entries_)
            if (k == key) return &e;
        return nullptr;
    }

private:
    friend class YamlReader;
    YAML::Node node_;
    std::string path_;
    std::vector<std::pair<std::string, Entry>> entries_;
};

// Turns YAML nodes into typed values, with errors located in `file_`.
class YamlReader {
public:
    explicit YamlReader(std::string file) : file_(std::move(file)) {}

    const std::string& file() const { return file_; }

    // Location of `n`; a node without a mark (an implicit empty value) uses `fallback`'s.
    SourceRef at(const YAML::Node& n, std::string path,
                 const YAML::Node* fallback = nullptr) const {
        YAML::Mark m = n.Mark();
        if (m.is_null() && fallback != nullptr) m = fallback->Mark();
        if (m.is_null()) return SourceRef{file_, 0, 0, std::move(path)};
        return SourceRef{file_, static_cast<uint32_t>(m.line + 1),
                         static_cast<uint32_t>(m.column + 1), std::move(path)};
    }
    SourceRef at(const Fields::Entry& e, std::string path) const {
        return at(e.value, std::move(path), &e.key);
    }

    // `n` as a mapping whose keys are all in `known_keys` (child_keys() of its table path).
    Result<Fields> map(const YAML::Node& n, const std::string& path, const KeyNames& known_keys,
                       const YAML::Node* fallback) const {
        std::span<const std::string_view> known = known_keys.span();
        if (!n.IsMap())
            return error_at(at(n, path, fallback),
                            std::string("expected a mapping, got ") + kind_of(n));
        Fields f;
        f.node_ = n;
        f.path_ = path;
        for (const auto& kv : n) {
            const YAML::Node& k = kv.first;
            if (!k.IsScalar())
                return error_at(at(k, path),
                                std::string("expected a string key, got ") + kind_of(k));
            const std::string& name = k.Scalar();
            bool is_known = false;
            for (std::string_view kn : known) is_known = is_known || kn == name;
            if (!is_known) {
                std::string list;
                for (std::string_view kn : known)
                    list += (list.empty() ? "" : ", ") + std::string(kn);
                return error_at(at(k, join(path, name)), "unknown key " + quote_for_error(name) +
                                                             " (expected one of: " + list + ")");
            }
            if (f.get(name) != nullptr)
                return error_at(at(k, join(path, name)), "key given twice in one mapping");
            f.entries_.emplace_back(name, Fields::Entry{k, kv.second});
        }
        return f;
    }

    // A required key: its entry, or "<mapping location>: <path.key>: missing required key (expected
    // ...)".
    Result<const Fields::Entry*> required(const Fields& f, std::string_view key,
                                          std::string_view expected) const {
        if (const auto* e = f.get(key)) return e;
        return error_at(at(f.node(), join(f.path(), key)),
                        "missing required key (expected " + std::string(expected) + ")");
    }

    // A scalar's text; `expected` describes the wanted value in the error for a non-scalar.
    Result<std::string> string(const Fields::Entry& e, const std::string& path,
                               std::string_view expected = "a string") const {
        if (!e.value.IsScalar())
            return error_at(at(e, path),
                            "expected " + std::string(expected) + ", got " + kind_of(e.value));
        return e.value.Scalar();
    }

    // A non-empty scalar's text; `if_empty` is the error for an empty one.
    Result<std::string> nonempty_string(const Fields::Entry& e, const std::string& path,
                                        std::string_view expected, std::string_view if_empty) const {
        auto s = string(e, path, expected);
        if (s.ok() && s->empty()) return error_at(at(e, path), if_empty);
        return s;
    }

    // Decimal integer in [lo, hi].
    Result<uint64_t> integer(const Fields::Entry& e, const std::string& path, uint64_t lo,
                             uint64_t hi) const {
        std::string expected =
            "expected an integer " + std::to_string(lo) + ".." + std::to_string(hi);
        if (!e.value.IsScalar())
            return error_at(at(e, path), expected + ", got " + kind_of(e.value));
        const std::string& s = e.value.Scalar();
        uint64_t v = 0;
        bool ok = !s.empty() && s.size() <= 19;
        for (char c : s) {
            if (c < '0' || c > '9')
                ok = false;
            else
                v = v * 10 + static_cast<uint64_t>(c - '0');
        }
        if (!ok || v < lo || v > hi)
            return error_at(at(e, path), expected + ", got " + quote_for_error(s));
        return v;
    }

    // Seconds as "N" or "N.fff" (at most 3 decimals), > 0 and <= 86400; returned in milliseconds.
    Result<std::chrono::milliseconds> seconds(const Fields::Entry& e,
                                              const std::string& path) const {
        static constexpr const char* kExpected =
            "expected a number of seconds > 0 and <= 86400 (at most 3 decimals, e.g. 20 or 0.5)";
        if (!e.value.IsScalar())
            return error_at(at(e, path), std::string(kExpected) + ", got " + kind_of(e.value));
        const std::string& s = e.value.Scalar();
        uint64_t ms = 0;
        size_t dot = s.find('.');
        std::string_view whole = std::string_view(s).substr(0, dot);
        std::string_view frac =
            dot == std::string::npos ? std::string_view() : std::string_view(s).substr(dot + 1);
        bool ok = !whole.empty() && whole.size() <= 6 && frac.size() <= 3 &&
                  (dot == std::string::npos || !frac.empty());
        for (char c : whole) {
            if (c < '0' || c > '9')
                ok = false;
            else
                ms = ms * 10 + static_cast<uint64_t>(c - '0');
        }
        ms *= 1000;
        uint64_t scale = 100;
        for (char c : frac) {
            if (c < '0' || c > '9')
                ok = false;
            else
                ms += static_cast<uint64_t>(c - '0') * scale;
            scale /= 10;
        }
        if (!ok || ms == 0 || ms > 86'400'000)
            return error_at(at(e, path), std::string(kExpected) + ", got " + quote_for_error(s));
        return std::chrono::milliseconds(ms);
    }

    // A list, or an empty value standing for an empty list.
    Result<std::vector<YAML::Node>> list(const Fields::Entry& e, const std::string& path) const {
        std::vector<YAML::Node> out;
        if (e.value.IsNull()) return out;
        if (!e.value.IsSequence())
            return error_at(at(e, path), std::string("expected a list, got ") + kind_of(e.value));
        for (const auto& item : e.value) out.push_back(item);
        return out;
    }

private:
    std::string file_;
};

// The keys each mapping accepts, from the key table (config_keys.hpp), in its order.
constexpr KeyNames kTopKeys = child_keys("");
constexpr KeyNames kListenKeys = child_keys("listen");
constexpr KeyNames kControlPlaneKeys = child_keys("controlplane");
constexpr KeyNames kDataplaneKeys = child_keys("dataplane");
constexpr KeyNames kClusterKeys = child_keys("clusters[]");
constexpr KeyNames kClientKeys = child_keys("clusters[].clients[]");

// Reads the integer key `k` of the mapping `f` into `out` if it is given, range-checked by the
// table. `f` is the mapping at k.parent() (a top-level section, so its path is k's path).
template <typename T>
Status read_integer(const YamlReader& r, const Fields& f, const ConfigKey& k, T& out) {
    static_assert(std::is_unsigned_v<T>);
    const auto* v = f.get(k.name());
    if (v == nullptr) return Status::success();
    RUSTUN_TRY_ASSIGN(n, r.integer(*v, std::string(k.path), k.min, k.max));
    out = static_cast<T>(n);
    return Status::success();
}

// Reads the seconds key `k` of the mapping `f` into `out` if it is given (as read_integer).
Status read_seconds(const YamlReader& r, const Fields& f, const ConfigKey& k,
                    std::chrono::milliseconds& out) {
    const auto* v = f.get(k.name());
    if (v == nullptr) return Status::success();
    RUSTUN_TRY_ASSIGN(d, r.seconds(*v, std::string(k.path)));
    out = d;
    return Status::success();
}

Result<SocketAddress> read_socket_address(const YamlReader& r, const Fields::Entry& e,
                                          const std::string& path) {
    RUSTUN_TRY_ASSIGN(text, r.string(e, path, "\"a.b.c.d:port\" or \"[ipv6]:port\""));
    auto a = parse_socket_address(text);
    if (!a) return error_at(r.at(e, path), a.error() + ", got " + quote_for_error(text));
    return *a;
}

Result<ListenConfig> read_listen(const YamlReader& r, const Fields::Entry& e) {
    RUSTUN_TRY_ASSIGN(f, r.map(e.value, "listen", kListenKeys, &e.key));
    ListenConfig out;
    RUSTUN_TRY_ASSIGN(tcp, r.required(f, "tcp", "\"a.b.c.d:port\" or \"[ipv6]:port\""));
    RUSTUN_TRY_ASSIGN(tcp_addr, read_socket_address(r, *tcp, "listen.tcp"));
    out.tcp = tcp_addr;
    if (const auto* udp = f.get("udp")) {
        RUSTUN_TRY_ASSIGN(udp_addr, read_socket_address(r, *udp, "listen.udp"));
        out.udp = udp_addr;
    }
    return out;
}

Result<ControlPlaneConfig> read_controlplane(const YamlReader& r, const Fields::Entry* e) {
    ControlPlaneConfig out;
    if (e == nullptr || e->value.IsNull()) return out;  // all defaults
    RUSTUN_TRY_ASSIGN(f, r.map(e->value, "controlplane", kControlPlaneKeys, &e->key));
    auto path = [](std::string_view k) { return join("controlplane", k); };
    RUSTUN_TRY(read_integer(r, f, config_key("controlplane.workers"), out.workers));
    RUSTUN_TRY(read_seconds(r, f, config_key("controlplane.handshake_timeout"), out.handshake_timeout));
    RUSTUN_TRY(read_seconds(r, f, config_key("controlplane.keepalive_interval"), out.keepalive_interval));
    out.idle_timeout = 3 * out.keepalive_interval;
    if (const auto* v = f.get("idle_timeout")) {
        RUSTUN_TRY_ASSIGN(d, r.seconds(*v, path("idle_timeout")));
        if (d <= out.keepalive_interval)
            return error_at(r.at(*v, path("idle_timeout")),
                            "must be greater than keepalive_interval (" +
                                std::to_string(out.keepalive_interval.count()) + " ms), got " +
                                std::to_string(d.count()) + " ms");
        out.idle_timeout = d;
    }
    RUSTUN_TRY(read_integer(r, f, config_key("controlplane.output_queue_bytes"), out.output_queue_bytes));
    RUSTUN_TRY(read_integer(r, f, config_key("controlplane.max_peers_per_reply"), out.max_peers_per_reply));
    RUSTUN_TRY(read_integer(r, f, config_key("controlplane.handshake_rate_per_source"),
                            out.handshake_rate_per_source));
    RUSTUN_TRY(read_integer(r, f, config_key("controlplane.handshake_pending_max"), out.handshake_pending_max));
    RUSTUN_TRY(read_integer(r, f, config_key("controlplane.handshake_pending_per_source"),
                            out.handshake_pending_per_source));
    RUSTUN_TRY(read_integer(r, f, config_key("controlplane.handshake_pending_per_prefix6"),
                            out.handshake_pending_per_prefix6));
    RUSTUN_TRY(read_seconds(r, f, config_key("controlplane.first_byte_timeout"), out.first_byte_timeout));
    if (const auto* v = f.get("log_level")) {
        RUSTUN_TRY_ASSIGN(s, r.string(*v, path("log_level")));
        bool found = false;
        for (LogLevel l : {LogLevel::Trace, LogLevel::Debug, LogLevel::Info, LogLevel::Warn,
                           LogLevel::Error, LogLevel::Off}) {
            if (s == log_level_name(l)) {
                out.log_level = l;
                found = true;
            }
        }
        if (!found)
            return error_at(
                r.at(*v, path("log_level")),
                "expected one of trace, debug, info, warn, error, off; got " + quote_for_error(s));
    }
    return out;
}

Result<DataplaneConfig> read_dataplane(const YamlReader& r, const Fields::Entry& e) {
    RUSTUN_TRY_ASSIGN(f, r.map(e.value, "dataplane", kDataplaneKeys, &e.key));
    DataplaneConfig out;
    auto path = [](std::string_view k) { return join("dataplane", k); };
    if (const auto* v = f.get("channel")) {
        RUSTUN_TRY_ASSIGN(s, r.nonempty_string(*v, path("channel"), "a path such as /run/rustun/dataplane.chan",
                                               "expected a non-empty path"));
        out.channel = s;
    }
    if (const auto* v = f.get("channel_group")) {
        RUSTUN_TRY_ASSIGN(s, r.nonempty_string(*v, path("channel_group"), "a group name such as rustun",
                                               "expected a non-empty group name"));
        out.channel_group = s;
    }
    if (const auto* v = f.get("eal_args")) {
        RUSTUN_TRY_ASSIGN(items, r.list(*v, path("eal_args")));
        for (size_t i = 0; i < items.size(); ++i) {
            std::string ipath = index_path(path("eal_args"), i);
            if (!items[i].IsScalar())
                return error_at(r.at(items[i], ipath, &v->key),
                                std::string("expected a string, got ") + kind_of(items[i]));
            out.eal_args.push_back(items[i].Scalar());
        }
    }
    RUSTUN_TRY_ASSIGN(port, r.required(f, "port", "a DPDK port name such as net_pcap0 or 0000:01:00.0"));
    RUSTUN_TRY_ASSIGN(port_name,
                      r.nonempty_string(*port, path("port"), "a DPDK port name", "expected a non-empty port name"));
    out.port = port_name;
    RUSTUN_TRY(read_integer(r, f, config_key("dataplane.workers"), out.workers));
    RUSTUN_TRY(read_integer(r, f, config_key("dataplane.idle_sleep_us"), out.idle_sleep_us));
    RUSTUN_TRY(read_integer(r, f, config_key("dataplane.burst"), out.burst));
    RUSTUN_TRY(read_integer(r, f, config_key("dataplane.sessions"), out.sessions));
    RUSTUN_TRY(read_integer(r, f, config_key("dataplane.mbufs"), out.mbufs));
    RUSTUN_TRY_ASSIGN(addr, r.required(f, "address", "the gateway's IPv4 address a.b.c.d on the uplink"));
    RUSTUN_TRY_ASSIGN(addr_text, r.string(*addr, path("address"), "an IPv4 address a.b.c.d"));
    RUSTUN_TRY_ASSIGN(addr_value, check_ipv4_field(addr_text, r.at(*addr, path("address"))));
    out.address = addr_value;
    if (const auto* v = f.get("address6")) {
        RUSTUN_TRY_ASSIGN(text, r.string(*v, path("address6"), "an IPv6 address such as 2001:db8::1"));
        std::array<uint8_t, 16> a6{};
        if (text.find(':') == std::string::npos || ::inet_pton(AF_INET6, text.c_str(), a6.data()) != 1)
            return error_at(r.at(*v, path("address6")),
                            "expected an IPv6 address such as 2001:db8::1, got " + quote_for_error(text));
        out.address6 = a6;
    }
    if (const auto* v = f.get("exception")) {
        RUSTUN_TRY_ASSIGN(s, r.string(*v, path("exception"), "none or tap"));
        if (s == "none")
            out.exception = DataplaneConfig::Exception::None;
        else if (s == "tap")
            out.exception = DataplaneConfig::Exception::Tap;
        else
            return error_at(r.at(*v, path("exception")), "expected none or tap, got " + quote_for_error(s));
    }
    if (const auto* v = f.get("exception_iface")) {
        RUSTUN_TRY_ASSIGN(s, r.string(*v, path("exception_iface"), "an interface name"));
        bool ok = !s.empty() && s.size() <= 15;
        for (char c : s) ok = ok && c > ' ' && c != '/' && c != ',' && c != '=' && c < 127;
        if (!ok)
            return error_at(r.at(*v, path("exception_iface")),
                            "expected an interface name of 1..15 characters without '/', ',', '=' "
                            "or spaces, got " + quote_for_error(s));
        out.exception_iface = s;
    }
    return out;
}

Result<LocatedClient> read_client(const YamlReader& r, const YAML::Node& n, const std::string& path,
                                  const std::string& cluster, const SourceRef& cluster_at) {
    RUSTUN_TRY_ASSIGN(f, r.map(n, path, kClientKeys, nullptr));
    LocatedClient lc;
    lc.cluster = cluster;
    lc.cluster_at = cluster_at;
    ClientConfig& c = lc.client;
    c.origin = r.at(n, path).to_string();

    RUSTUN_TRY_ASSIGN(id, r.required(f, "identity", "a non-empty string"));
    lc.identity_at = r.at(*id, join(path, "identity"));
    RUSTUN_TRY_ASSIGN(identity, r.string(*id, lc.identity_at.path));
    RUSTUN_TRY(check_nonempty_field(identity, lc.identity_at));
    c.identity = identity;

    if (const auto* e = f.get("name")) {
        RUSTUN_TRY_ASSIGN(name, r.string(*e, join(path, "name")));
        c.name = name;
    }

    RUSTUN_TRY_ASSIGN(ip, r.required(f, "private_ip", "an IPv4 address a.b.c.d"));
    lc.private_ip_at = r.at(*ip, join(path, "private_ip"));
    RUSTUN_TRY_ASSIGN(ip_text, r.string(*ip, lc.private_ip_at.path, "an IPv4 address a.b.c.d"));
    RUSTUN_TRY_ASSIGN(ip_value, check_ipv4_field(ip_text, lc.private_ip_at));
    c.private_ip = ip_value;

    RUSTUN_TRY_ASSIGN(mask, r.required(f, "mask", "a netmask such as 255.255.255.0"));
    RUSTUN_TRY_ASSIGN(mask_text, r.string(*mask, join(path, "mask"), "a netmask a.b.c.d"));
    RUSTUN_TRY_ASSIGN(mask_value, check_netmask_field(mask_text, r.at(*mask, join(path, "mask"))));
    c.mask = mask_value;

    RUSTUN_TRY_ASSIGN(gw, r.required(f, "gateway", "an IPv4 address a.b.c.d"));
    RUSTUN_TRY_ASSIGN(gw_text, r.string(*gw, join(path, "gateway"), "an IPv4 address a.b.c.d"));
    RUSTUN_TRY_ASSIGN(gw_value, check_ipv4_field(gw_text, r.at(*gw, join(path, "gateway"))));
    c.gateway = gw_value;

    if (const auto* e = f.get("ciders")) {
        std::string cpath = join(path, "ciders");
        RUSTUN_TRY_ASSIGN(items, r.list(*e, cpath));
        for (size_t i = 0; i < items.size(); ++i) {
            std::string ipath = index_path(cpath, i);
            if (!items[i].IsScalar())
                return error_at(
                    r.at(items[i], ipath, &e->key),
                    std::string("expected a CIDR string a.b.c.d/n, got ") + kind_of(items[i]));
            RUSTUN_TRY_ASSIGN(cidr,
                              check_cidr_field(items[i].Scalar(), r.at(items[i], ipath, &e->key)));
            c.ciders.push_back(cidr);
        }
    }

    if (const auto* e = f.get("cider_mapping"); e != nullptr && !e->value.IsNull()) {
        std::string mpath = join(path, "cider_mapping");
        if (!e->value.IsMap())
            return error_at(
                r.at(*e, mpath),
                std::string("expected a mapping of CIDR to CIDR, got ") + kind_of(e->value));
        for (const auto& kv : e->value) {
            if (!kv.first.IsScalar())
                return error_at(
                    r.at(kv.first, mpath),
                    std::string("expected a CIDR string key, got ") + kind_of(kv.first));
            std::string kpath = mpath + "[" + quote_for_error(kv.first.Scalar()) + "]";
            RUSTUN_TRY_ASSIGN(from, check_cidr_field(kv.first.Scalar(), r.at(kv.first, kpath)));
            for (const CidrMapping& m : c.cider_mapping)
                if (m.virtual_cidr == from)
                    return error_at(r.at(kv.first, kpath), "key given twice in one mapping");
            if (!kv.second.IsScalar())
                return error_at(r.at(kv.second, kpath, &kv.first),
                                std::string("expected a CIDR string, got ") + kind_of(kv.second));
            RUSTUN_TRY_ASSIGN(
                to, check_cidr_field(kv.second.Scalar(), r.at(kv.second, kpath, &kv.first)));
            c.cider_mapping.push_back(CidrMapping{from, to});
        }
    }
    return lc;
}

// `seen` maps the names of the clusters read so far to their location. A duplicate name is
// rejected before the clients are read, so that a YAML alias repeating a large cluster costs
// nothing.
Result<InlineCluster> read_cluster(const YamlReader& r, const YAML::Node& n,
                                   const std::string& path,
                                   std::unordered_map<std::string, SourceRef>& seen) {
    RUSTUN_TRY_ASSIGN(f, r.map(n, path, kClusterKeys, nullptr));
    InlineCluster out;
    RUSTUN_TRY_ASSIGN(name, r.required(f, "name", "a non-empty string"));
    out.name_at = r.at(*name, join(path, "name"));
    RUSTUN_TRY_ASSIGN(name_text, r.string(*name, out.name_at.path));
    RUSTUN_TRY(check_nonempty_field(name_text, out.name_at));
    out.name = name_text;
    if (auto [it, fresh] = seen.emplace(out.name, out.name_at); !fresh)
        return error_at(out.name_at, "duplicate cluster name " + quote_for_error(out.name) +
                                         " (first defined at " + it->second.to_string() + ")");
    if (const auto* e = f.get("crypto")) {
        RUSTUN_TRY_ASSIGN(text,
                          r.string(*e, join(path, "crypto"), "a cipher such as \"chacha20:KEY\""));
        RUSTUN_TRY_ASSIGN(spec, check_crypto_field(text, r.at(*e, join(path, "crypto"))));
        out.crypto = spec;
    }
    if (const auto* e = f.get("clients")) {
        std::string cpath = join(path, "clients");
        RUSTUN_TRY_ASSIGN(items, r.list(*e, cpath));
        for (size_t i = 0; i < items.size(); ++i) {
            RUSTUN_TRY_ASSIGN(
                lc, read_client(r, items[i], index_path(cpath, i), out.name, out.name_at));
            out.clients.push_back(std::move(lc));
        }
    }
    return out;
}

Result<GatewayConfig> load_document(const YamlReader& r, const YAML::Node& root) {
    if (root.IsNull())
        return error_at(SourceRef{r.file(), 0, 0, ""},
                        "empty document (expected a mapping with at least listen and crypto)");
    RUSTUN_TRY_ASSIGN(top, r.map(root, "", kTopKeys, nullptr));
    GatewayConfig cfg;
    cfg.source_file = r.file();

    RUSTUN_TRY_ASSIGN(listen, r.required(top, "listen", "a mapping with tcp and optionally udp"));
    RUSTUN_TRY_ASSIGN(listen_cfg, read_listen(r, *listen));
    cfg.listen = listen_cfg;

    RUSTUN_TRY_ASSIGN(
        crypto,
        r.required(top, "crypto", "\"chacha20:KEY\", \"aes256:KEY\", \"xor:KEY\" or \"plain\""));
    RUSTUN_TRY_ASSIGN(crypto_text,
                      r.string(*crypto, "crypto", "a cipher such as \"chacha20:KEY\""));
    RUSTUN_TRY_ASSIGN(crypto_spec, check_crypto_field(crypto_text, r.at(*crypto, "crypto")));
    cfg.crypto = crypto_spec;

    if (const auto* e = top.get("control_socket")) {
        RUSTUN_TRY_ASSIGN(s, r.nonempty_string(*e, "control_socket", "a string", "expected a non-empty path"));
        cfg.control_socket = s;
    }
    if (const auto* e = top.get("control_socket_group")) {
        RUSTUN_TRY_ASSIGN(g, r.nonempty_string(*e, "control_socket_group", "a group name or a numeric gid",
                                               "expected a group name or a numeric gid"));
        cfg.control_socket_group = g;
    }

    RUSTUN_TRY_ASSIGN(cp, read_controlplane(r, top.get("controlplane")));
    cfg.controlplane = cp;

    if (const auto* e = top.get("dataplane"); e != nullptr && !e->value.IsNull()) {
        RUSTUN_TRY_ASSIGN(dp, read_dataplane(r, *e));
        cfg.dataplane = std::move(dp);
    }

    std::vector<LocatedClient> imported;
    if (const auto* e = top.get("clients_file")) {
        RUSTUN_TRY_ASSIGN(s, r.nonempty_string(*e, "clients_file", "a string",
                                               "expected a non-empty path to a routes.json file"));
        cfg.clients_file = (std::filesystem::path(r.file()).parent_path() / s).string();
        auto text = read_text_file(cfg.clients_file);
        if (!text) return error_at(r.at(*e, "clients_file"), text.error());
        RUSTUN_TRY_ASSIGN(entries, parse_routes_json(*text, cfg.clients_file));
        imported = std::move(entries);
    }

    std::vector<InlineCluster> inline_clusters;
    std::unordered_map<std::string, SourceRef> cluster_names;
    if (const auto* e = top.get("clusters")) {
        RUSTUN_TRY_ASSIGN(items, r.list(*e, "clusters"));
        for (size_t i = 0; i < items.size(); ++i) {
            RUSTUN_TRY_ASSIGN(ic,
                              read_cluster(r, items[i], index_path("clusters", i), cluster_names));
            inline_clusters.push_back(std::move(ic));
        }
    }

    RUSTUN_TRY_ASSIGN(clusters,
                      merge_clusters(std::move(imported), std::move(inline_clusters), cfg.crypto));
    cfg.clusters = std::move(clusters);
    return cfg;
}

#undef RUSTUN_TRY
#undef RUSTUN_TRY_ASSIGN

}  // namespace

Result<GatewayConfig> load_config_string(std::string_view text, std::string_view pseudo_filename) {
    YamlReader reader{std::string(pseudo_filename)};
    try {
        YAML::Node root = YAML::Load(std::string(text));
        return load_document(reader, root);
    } catch (const YAML::Exception& e) {
        // Parser errors (and the parser's own nesting bound, YAML::DeepRecursion).
        SourceRef at{reader.file(), 0, 0, ""};
        if (!e.mark.is_null()) {
            at.line = static_cast<uint32_t>(e.mark.line + 1);
            at.column = static_cast<uint32_t>(e.mark.column + 1);
        }
        return error_at(at, "invalid YAML: " + e.msg);
    } catch (const std::exception& e) {
        return make_error(reader.file() + ": " + e.what());
    }
}

Result<GatewayConfig> load_config_file(const std::string& path) {
    auto text = read_text_file(path);
    if (!text) return make_error(path + ": " + text.error());
    return load_config_string(*text, path);
}

}  // namespace rustun
