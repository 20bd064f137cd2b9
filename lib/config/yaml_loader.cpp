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
#include "config/fleet_reader.hpp"
#include "config/read_text_file.hpp"
#include "config/routes_json.hpp"
#include "config/yaml_reader.hpp"
#include "util/log.hpp"

namespace rustun {

namespace {

using namespace config_yaml;

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

// Reads one key or element (`expr`, a Status or Result): its error is returned, or recorded when
// checking, and reading goes on (RUSTUN_KEY: with the next statement; RUSTUN_NEXT: with the next
// loop iteration). Expects the YamlReader `r`.
#define RUSTUN_KEY(expr)                                                                    \
    do {                                                                                    \
        auto key_status_ = (expr);                                                          \
        if (!key_status_.ok() && !r.go_on(Error{key_status_.error()}))                      \
            return Error{key_status_.error()};                                              \
    } while (0)
#define RUSTUN_NEXT(result)                                                                 \
    if (!(result).ok()) {                                                                   \
        if (!r.go_on(Error{(result).error()})) return Error{(result).error()};              \
        continue;                                                                           \
    }

// The keys each mapping accepts, from the key table (config_keys.hpp), in its order.
constexpr KeyNames kTopKeys = child_keys("");
constexpr KeyNames kListenKeys = child_keys("listen");
constexpr KeyNames kMetricsKeys = child_keys("metrics");
constexpr KeyNames kLogKeys = child_keys("log");
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

// A descriptor count (dataplane.rx_descriptors, tx_descriptors): read_integer, then 0 or a power
// of two (NIC rings are sized in powers of two; the port's own limits are checked at set-up).
Status read_descriptors(const YamlReader& r, const Fields& f, const ConfigKey& k, uint32_t& out) {
    RUSTUN_TRY(read_integer(r, f, k, out));
    if ((out & (out - 1)) == 0) return Status::success();
    return error_at(r.at(*f.get(k.name()), std::string(k.path)),
                    "expected 0 (the build's default) or a power of two up to " + std::to_string(k.max) +
                        " such as 512 or 4096, got " + std::to_string(out));
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

// `udp_at` receives the location of listen.udp, if given.
Result<ListenConfig> read_listen(const YamlReader& r, const Fields::Entry& e, SourceRef& udp_at) {
    RUSTUN_TRY_ASSIGN(f, r.map(e.value, "listen", kListenKeys, &e.key));
    ListenConfig out;
    RUSTUN_TRY_ASSIGN(tcp, r.required(f, "tcp", "\"a.b.c.d:port\" or \"[ipv6]:port\""));
    RUSTUN_TRY_ASSIGN(tcp_addr, read_socket_address(r, *tcp, "listen.tcp"));
    out.tcp = tcp_addr;
    if (const auto* udp = f.get("udp")) {
        RUSTUN_TRY_ASSIGN(udp_addr, read_socket_address(r, *udp, "listen.udp"));
        out.udp = udp_addr;
        udp_at = r.at(*udp, "listen.udp");
    }
    return out;
}

Result<ControlPlaneConfig> read_controlplane(const YamlReader& r, const Fields::Entry* e) {
    ControlPlaneConfig out;
    if (e == nullptr || e->value.IsNull()) return out;  // all defaults
    RUSTUN_TRY_ASSIGN(f, r.map(e->value, "controlplane", kControlPlaneKeys, &e->key));
    auto path = [](std::string_view k) { return join("controlplane", k); };
    RUSTUN_KEY(read_integer(r, f, config_key("controlplane.workers"), out.workers));
    RUSTUN_KEY(read_seconds(r, f, config_key("controlplane.handshake_timeout"), out.handshake_timeout));
    RUSTUN_KEY(read_seconds(r, f, config_key("controlplane.keepalive_interval"), out.keepalive_interval));
    out.idle_timeout = 3 * out.keepalive_interval;
    RUSTUN_KEY([&]() -> Status {
        const auto* v = f.get("idle_timeout");
        if (v == nullptr) return Status::success();
        RUSTUN_TRY_ASSIGN(d, r.seconds(*v, path("idle_timeout")));
        if (d <= out.keepalive_interval)
            return error_at(r.at(*v, path("idle_timeout")),
                            "must be greater than keepalive_interval (" +
                                std::to_string(out.keepalive_interval.count()) + " ms), got " +
                                std::to_string(d.count()) + " ms");
        out.idle_timeout = d;
        return Status::success();
    }());
    RUSTUN_KEY(read_integer(r, f, config_key("controlplane.output_queue_bytes"), out.output_queue_bytes));
    RUSTUN_KEY(read_integer(r, f, config_key("controlplane.max_peers_per_reply"), out.max_peers_per_reply));
    RUSTUN_KEY(read_integer(r, f, config_key("controlplane.handshake_rate_per_source"),
                            out.handshake_rate_per_source));
    RUSTUN_KEY(read_integer(r, f, config_key("controlplane.handshake_pending_max"), out.handshake_pending_max));
    RUSTUN_KEY(read_integer(r, f, config_key("controlplane.handshake_pending_per_source"),
                            out.handshake_pending_per_source));
    RUSTUN_KEY(read_integer(r, f, config_key("controlplane.handshake_pending_per_prefix6"),
                            out.handshake_pending_per_prefix6));
    RUSTUN_KEY(read_seconds(r, f, config_key("controlplane.first_byte_timeout"), out.first_byte_timeout));
    RUSTUN_KEY([&]() -> Status {
        const auto* v = f.get("log_level");
        if (v == nullptr) return Status::success();
        RUSTUN_TRY_ASSIGN(s, r.string(*v, path("log_level")));
        for (LogLevel l : {LogLevel::Trace, LogLevel::Debug, LogLevel::Info, LogLevel::Warn,
                           LogLevel::Error, LogLevel::Off}) {
            if (s == log_level_name(l)) {
                out.log_level = l;
                return Status::success();
            }
        }
        return error_at(r.at(*v, path("log_level")),
                        "expected one of trace, debug, info, warn, error, off; got " + quote_for_error(s));
    }());
    return out;
}

// The `log:` section: log.level goes to cfg.controlplane.log_level (read before it, so that
// setting both spellings is an error), log.format to cfg.log_format.
Status read_log(const YamlReader& r, const Fields::Entry& e, bool cp_level_given, GatewayConfig& cfg) {
    RUSTUN_TRY_ASSIGN(f, r.map(e.value, "log", kLogKeys, &e.key));
    if (const auto* v = f.get("level")) {
        RUSTUN_TRY_ASSIGN(s, r.string(*v, "log.level"));
        if (!log_level_from_string(s, cfg.controlplane.log_level))
            return error_at(r.at(*v, "log.level"),
                            "expected one of trace, debug, info, warn, warning, error, off; got " + quote_for_error(s));
        if (cp_level_given)
            return error_at(r.at(*v, "log.level"), "controlplane.log_level is set too: keep one of them");
    }
    if (const auto* v = f.get("format")) {
        RUSTUN_TRY_ASSIGN(s, r.string(*v, "log.format"));
        LogFormat fmt;
        if (!log_format_from_string(s, fmt))
            return error_at(r.at(*v, "log.format"), "expected one of text, journal, json; got " + quote_for_error(s));
        cfg.log_format = fmt;
    }
    return Status::success();
}

Result<DataplaneConfig> read_dataplane(const YamlReader& r, const Fields::Entry& e) {
    RUSTUN_TRY_ASSIGN(f, r.map(e.value, "dataplane", kDataplaneKeys, &e.key));
    DataplaneConfig out;
    auto path = [](std::string_view k) { return join("dataplane", k); };
    // The key `k`, if given, read by `read` into `out`.
    auto optional = [&](std::string_view k, auto read) -> Status {
        const auto* v = f.get(k);
        return v == nullptr ? Status::success() : read(*v);
    };
    RUSTUN_KEY(optional("channel", [&](const Fields::Entry& v) -> Status {
        RUSTUN_TRY_ASSIGN(s, r.nonempty_string(v, path("channel"), "a path such as /run/rustun/dataplane.chan",
                                               "expected a non-empty path"));
        out.channel = s;
        return Status::success();
    }));
    RUSTUN_KEY(optional("channel_group", [&](const Fields::Entry& v) -> Status {
        RUSTUN_TRY_ASSIGN(s, r.nonempty_string(v, path("channel_group"), "a group name such as rustun",
                                               "expected a non-empty group name"));
        out.channel_group = s;
        return Status::success();
    }));
    RUSTUN_KEY(optional("eal_args", [&](const Fields::Entry& v) -> Status {
        RUSTUN_TRY_ASSIGN(items, r.list(v, path("eal_args")));
        for (size_t i = 0; i < items.size(); ++i) {
            std::string ipath = index_path(path("eal_args"), i);
            if (!items[i].IsScalar())
                return error_at(r.at(items[i], ipath, &v.key),
                                std::string("expected a string, got ") + kind_of(items[i]));
            out.eal_args.push_back(items[i].Scalar());
        }
        return Status::success();
    }));
    RUSTUN_KEY([&]() -> Status {
        RUSTUN_TRY_ASSIGN(port, r.required(f, "port", "a DPDK port name such as net_pcap0 or 0000:01:00.0"));
        RUSTUN_TRY_ASSIGN(name, r.nonempty_string(*port, path("port"), "a DPDK port name",
                                                  "expected a non-empty port name"));
        out.port = name;
        return Status::success();
    }());
    RUSTUN_KEY(read_integer(r, f, config_key("dataplane.workers"), out.workers));
    RUSTUN_KEY(read_integer(r, f, config_key("dataplane.idle_sleep_us"), out.idle_sleep_us));
    RUSTUN_KEY(read_integer(r, f, config_key("dataplane.stage_cycles"), out.stage_cycles));
    RUSTUN_KEY(read_integer(r, f, config_key("dataplane.burst"), out.burst));
    RUSTUN_KEY(read_integer(r, f, config_key("dataplane.sessions"), out.sessions));
    RUSTUN_KEY(read_integer(r, f, config_key("dataplane.mbufs"), out.mbufs));
    RUSTUN_KEY(read_descriptors(r, f, config_key("dataplane.rx_descriptors"), out.rx_descriptors));
    RUSTUN_KEY(read_descriptors(r, f, config_key("dataplane.tx_descriptors"), out.tx_descriptors));
    RUSTUN_KEY([&]() -> Status {
        const ConfigKey& k = config_key("dataplane.mtu");
        RUSTUN_TRY(read_integer(r, f, k, out.mtu));
        if (out.mtu == 0 || out.mtu >= 1280) return Status::success();
        return error_at(r.at(*f.get(k.name()), std::string(k.path)),
                        "expected 0 (the port's own MTU) or 1280..2000 bytes, got " + std::to_string(out.mtu));
    }());
    RUSTUN_KEY([&]() -> Status {
        RUSTUN_TRY_ASSIGN(addr, r.required(f, "address", "the gateway's IPv4 address a.b.c.d on the uplink"));
        RUSTUN_TRY_ASSIGN(text, r.string(*addr, path("address"), "an IPv4 address a.b.c.d"));
        RUSTUN_TRY_ASSIGN(value, check_ipv4_field(text, r.at(*addr, path("address"))));
        out.address = value;
        return Status::success();
    }());
    RUSTUN_KEY(optional("address6", [&](const Fields::Entry& v) -> Status {
        RUSTUN_TRY_ASSIGN(text, r.string(v, path("address6"), "an IPv6 address such as 2001:db8::1"));
        std::array<uint8_t, 16> a6{};
        if (text.find(':') == std::string::npos || ::inet_pton(AF_INET6, text.c_str(), a6.data()) != 1)
            return error_at(r.at(v, path("address6")),
                            "expected an IPv6 address such as 2001:db8::1, got " + quote_for_error(text));
        out.address6 = a6;
        return Status::success();
    }));
    RUSTUN_KEY(optional("exception", [&](const Fields::Entry& v) -> Status {
        RUSTUN_TRY_ASSIGN(s, r.string(v, path("exception"), "none or tap"));
        if (s == "none")
            out.exception = DataplaneConfig::Exception::None;
        else if (s == "tap")
            out.exception = DataplaneConfig::Exception::Tap;
        else
            return error_at(r.at(v, path("exception")), "expected none or tap, got " + quote_for_error(s));
        return Status::success();
    }));
    RUSTUN_KEY(optional("exception_iface", [&](const Fields::Entry& v) -> Status {
        RUSTUN_TRY_ASSIGN(s, r.string(v, path("exception_iface"), "an interface name"));
        bool ok = !s.empty() && s.size() <= 15;
        for (char c : s) ok = ok && c > ' ' && c != '/' && c != ',' && c != '=' && c < 127;
        if (!ok)
            return error_at(r.at(v, path("exception_iface")),
                            "expected an interface name of 1..15 characters without '/', ',', '=' "
                            "or spaces, got " + quote_for_error(s));
        out.exception_iface = s;
        return Status::success();
    }));
    return out;
}

// The dataplane serves the UDP relay port on dataplane.address (or address6): listen.udp may name
// that address, or the unspecified one (0.0.0.0, ::: every address); any other address would be
// silently ignored, so it is an error.
Status check_udp_address(const SocketAddress& udp, const SourceRef& udp_at, const DataplaneConfig& dp) {
    const std::array<uint8_t, 16> unspecified{};
    if (udp.bytes == unspecified) return Status::success();
    if (udp.family == AddressFamily::V4) {
        std::array<uint8_t, 16> mine{};
        for (int i = 0; i < 4; ++i) mine[i] = static_cast<uint8_t>(dp.address.value >> (24 - 8 * i));
        if (udp.bytes == mine) return Status::success();
        return error_at(udp_at, "address differs from dataplane.address " + dp.address.to_string() +
                                    ": the dataplane serves the UDP relay on dataplane.address (give that "
                                    "address or 0.0.0.0)");
    }
    if (dp.address6 && udp.bytes == *dp.address6) return Status::success();
    return error_at(udp_at, std::string(dp.address6 ? "address differs from dataplane.address6"
                                                    : "an IPv6 address, but dataplane.address6 is not set") +
                                ": the dataplane serves the UDP relay on dataplane.address6 (give that "
                                "address or [::])");
}

// Warns about a cipher that loads but protects little: plain, xor, an empty key.
void warn_weak_cipher(const YamlReader& r, const CipherSpec& spec, const SourceRef& at) {
    if (spec.method == CipherMethod::Plain)
        r.warn(at, "plain: frames are neither encrypted nor authenticated");
    else if (spec.method == CipherMethod::Xor)
        r.warn(at, "xor is not encryption: anyone who sees a few frames reads and forges them");
    else if (spec.key.empty())
        r.warn(at, std::string("empty key: ") + cipher_method_name(spec.method) +
                       " with the all-zero key everyone knows");
}

// Client `index` of cluster `cluster_index` (named `cluster`, its name at `cluster_pos`);
// `path` is "clusters[c].clients[i]".
Result<LocatedClient> read_client(const YamlReader& r, const YAML::Node& n, const std::string& path,
                                  const std::string& cluster, uint32_t cluster_index, TextPos cluster_pos,
                                  uint32_t index) {
    RUSTUN_TRY_ASSIGN(f, r.map(n, path, kClientKeys, nullptr));
    LocatedClient lc;
    lc.cluster = cluster;
    lc.file = r.shared_file();
    lc.yaml_cluster = cluster_index;
    lc.index = index;
    lc.cluster_pos = cluster_pos;
    ClientConfig& c = lc.client;
    c.origin = r.at(n, path).to_string();

    RUSTUN_TRY_ASSIGN(id, r.required(f, "identity", "a non-empty string"));
    const SourceRef identity_at = r.at(*id, join(path, "identity"));
    lc.identity_pos = TextPos{identity_at.line, identity_at.column};
    RUSTUN_TRY_ASSIGN(identity, r.string(*id, identity_at.path));
    RUSTUN_TRY(check_nonempty_field(identity, identity_at));
    c.identity = identity;

    if (const auto* e = f.get("name")) {
        RUSTUN_TRY_ASSIGN(name, r.string(*e, join(path, "name")));
        c.name = name;
    }

    RUSTUN_TRY_ASSIGN(ip, r.required(f, "private_ip", "an IPv4 address a.b.c.d"));
    const SourceRef private_ip_at = r.at(*ip, join(path, "private_ip"));
    lc.private_ip_pos = TextPos{private_ip_at.line, private_ip_at.column};
    RUSTUN_TRY_ASSIGN(ip_text, r.string(*ip, private_ip_at.path, "an IPv4 address a.b.c.d"));
    RUSTUN_TRY_ASSIGN(ip_value, check_ipv4_field(ip_text, private_ip_at));
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

// A cipher value into `out` (with a warning for a weak one when checking).
template <typename Spec>
Status read_crypto(const YamlReader& r, const Fields::Entry& e, const std::string& path, Spec& out) {
    RUSTUN_TRY_ASSIGN(text, r.string(e, path, "a cipher such as \"chacha20:KEY\""));
    RUSTUN_TRY_ASSIGN(spec, check_crypto_field(text, r.at(e, path)));
    warn_weak_cipher(r, spec, r.at(e, path));
    out = spec;
    return Status::success();
}

// `seen` maps the names of the clusters read so far to their location. A duplicate name is
// rejected before the clients are read, so that a YAML alias repeating a large cluster costs
// nothing.
Result<InlineCluster> read_cluster(const YamlReader& r, const YAML::Node& n, uint32_t cluster_index,
                                   std::unordered_map<std::string, SourceRef>& seen) {
    const std::string path = index_path("clusters", cluster_index);
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
        RUSTUN_KEY(read_crypto(r, *e, join(path, "crypto"), out.crypto));
    }
    if (const auto* e = f.get("clients")) {
        std::string cpath = join(path, "clients");
        RUSTUN_TRY_ASSIGN(items, r.list(*e, cpath));
        for (size_t i = 0; i < items.size(); ++i) {
            auto lc = read_client(r, items[i], index_path(cpath, i), out.name, cluster_index,
                                  TextPos{out.name_at.line, out.name_at.column}, static_cast<uint32_t>(i));
            RUSTUN_NEXT(lc);
            out.clients.push_back(std::move(lc).value());
        }
    }
    return out;
}

Result<GatewayConfig> load_document(const YamlReader& r, const YAML::Node& root, ConfigScope scope) {
    if (root.IsNull())
        return error_at(SourceRef{r.file(), 0, 0, ""},
                        "empty document (expected a mapping with at least listen and crypto)");
    RUSTUN_TRY_ASSIGN(top, r.map(root, "", kTopKeys, nullptr));
    GatewayConfig cfg;
    cfg.source_file = r.file();

    SourceRef udp_at;
    RUSTUN_KEY([&]() -> Status {
        RUSTUN_TRY_ASSIGN(listen, r.required(top, "listen", "a mapping with tcp and optionally udp"));
        RUSTUN_TRY_ASSIGN(listen_cfg, read_listen(r, *listen, udp_at));
        cfg.listen = listen_cfg;
        return Status::success();
    }());

    RUSTUN_KEY([&]() -> Status {
        RUSTUN_TRY_ASSIGN(crypto, r.required(top, "crypto",
                                             "\"chacha20:KEY\", \"aes256:KEY\", \"xor:KEY\" or \"plain\""));
        return read_crypto(r, *crypto, "crypto", cfg.crypto);
    }());

    if (const auto* e = top.get("control_socket")) {
        auto s = r.nonempty_string(*e, "control_socket", "a string", "expected a non-empty path");
        RUSTUN_KEY(s);
        if (s.ok()) cfg.control_socket = *s;
    }
    if (const auto* e = top.get("control_socket_group")) {
        auto g = r.nonempty_string(*e, "control_socket_group", "a group name or a numeric gid",
                                   "expected a group name or a numeric gid");
        RUSTUN_KEY(g);
        if (g.ok()) cfg.control_socket_group = *g;
    }

    if (const auto* e = top.get("metrics"); e != nullptr && !e->value.IsNull()) {
        RUSTUN_KEY([&]() -> Status {
            RUSTUN_TRY_ASSIGN(f, r.map(e->value, "metrics", kMetricsKeys, &e->key));
            RUSTUN_TRY_ASSIGN(l, r.required(f, "listen", "\"127.0.0.1:9469\" or \"[::1]:9469\""));
            RUSTUN_TRY_ASSIGN(addr, read_socket_address(r, *l, "metrics.listen"));
            cfg.metrics_listen = addr;
            return Status::success();
        }());
    }

    auto cp = read_controlplane(r, top.get("controlplane"));
    RUSTUN_KEY(cp);
    if (cp.ok()) cfg.controlplane = *cp;

    if (const auto* e = top.get("log"); e != nullptr && !e->value.IsNull()) {
        const auto* cpe = top.get("controlplane");
        const bool cp_level_given = cpe != nullptr && cpe->value.IsMap() && cpe->value["log_level"].IsDefined();
        RUSTUN_KEY(read_log(r, *e, cp_level_given, cfg));
    }

    if (const auto* e = top.get("dataplane"); e != nullptr && !e->value.IsNull()) {
        auto dp = read_dataplane(r, *e);
        RUSTUN_KEY(dp);
        if (dp.ok()) cfg.dataplane = std::move(dp).value();
    }
    if (cfg.dataplane && cfg.listen.udp)
        RUSTUN_KEY(check_udp_address(*cfg.listen.udp, udp_at, *cfg.dataplane));

    if (const auto* e = top.get("fleet"); e != nullptr && !e->value.IsNull()) {
        auto fleet = read_fleet(r, *e);
        RUSTUN_KEY(fleet);
        if (fleet.ok()) cfg.fleet = std::move(fleet).value();
    }

    if (scope == ConfigScope::Settings) return cfg;  // no clients: clients_file, clusters unread

    std::vector<LocatedClient> imported;
    if (const auto* e = top.get("clients_file")) {
        RUSTUN_KEY([&]() -> Status {
            RUSTUN_TRY_ASSIGN(s, r.nonempty_string(*e, "clients_file", "a string",
                                                   "expected a non-empty path to a routes.json file"));
            cfg.clients_file = (std::filesystem::path(r.file()).parent_path() / s).string();
            auto text = read_text_file(cfg.clients_file);
            if (!text) return error_at(r.at(*e, "clients_file"), text.error());
            RUSTUN_TRY_ASSIGN(entries, parse_routes_json(*text, cfg.clients_file));
            imported = std::move(entries);
            return Status::success();
        }());
    }

    std::vector<InlineCluster> inline_clusters;
    std::unordered_map<std::string, SourceRef> cluster_names;
    if (const auto* e = top.get("clusters")) {
        auto items = r.list(*e, "clusters");
        RUSTUN_KEY(items);
        for (size_t i = 0; items.ok() && i < items->size(); ++i) {
            auto ic = read_cluster(r, (*items)[i], static_cast<uint32_t>(i), cluster_names);
            RUSTUN_NEXT(ic);
            inline_clusters.push_back(std::move(ic).value());
        }
    }

    RUSTUN_TRY_ASSIGN(clusters,
                      merge_clusters(std::move(imported), std::move(inline_clusters), cfg.crypto));
    cfg.clusters = std::move(clusters);
    return cfg;
}

#undef RUSTUN_KEY
#undef RUSTUN_NEXT
#undef RUSTUN_TRY
#undef RUSTUN_TRY_ASSIGN

}  // namespace

namespace {

// Line `index` (0-based) of `text`, empty if there is none.
std::string_view source_line(std::string_view text, size_t index) {
    size_t start = 0;
    for (size_t i = 0; i < index; ++i) {
        start = text.find('\n', start);
        if (start == std::string_view::npos) return {};
        ++start;
    }
    return text.substr(start, text.find('\n', start) - start);
}

// Loads `text`; with a `check`, every error and warning goes there as well.
Result<GatewayConfig> load_text(std::string_view text, std::string_view pseudo_filename,
                                ConfigCheck* check, ConfigScope scope) {
    YamlReader reader{std::string(pseudo_filename), check};
    try {
        YAML::Node root = YAML::Load(std::string(text));
        return load_document(reader, root, scope);
    } catch (const YAML::Exception& e) {
        // Parser errors (and the parser's own nesting bound, YAML::DeepRecursion).
        SourceRef at{reader.file(), 0, 0, ""};
        if (!e.mark.is_null()) {
            at.line = static_cast<uint32_t>(e.mark.line + 1);
            at.column = static_cast<uint32_t>(e.mark.column + 1);
        }
        std::string what = "invalid YAML: " + e.msg;
        if (!e.mark.is_null() && line_has_unquoted_ipv6(source_line(text, static_cast<size_t>(e.mark.line))))
            what += kQuoteIpv6Hint;
        return error_at(at, what);
    } catch (const std::exception& e) {
        return make_error(reader.file() + ": " + e.what());
    }
}

}  // namespace

Result<GatewayConfig> load_config_string(std::string_view text, std::string_view pseudo_filename,
                                         ConfigScope scope) {
    return load_text(text, pseudo_filename, nullptr, scope);
}

Result<GatewayConfig> load_config_file(const std::string& path, ConfigScope scope) {
    auto text = read_text_file(path);
    if (!text) return make_error(path + ": " + text.error());
    return load_config_string(*text, path, scope);
}

ConfigCheck check_config_string(std::string_view text, std::string_view pseudo_filename) {
    ConfigCheck check;
    auto cfg = load_text(text, pseudo_filename, &check, ConfigScope::Everything);
    // An error returned (not recorded) stopped the reading: a document, a mapping or a check
    // across clients that could not go on.
    if (!cfg.ok()) check.errors.push_back(cfg.error());
    if (check.errors.empty()) check.config = std::move(cfg).value();
    return check;
}

ConfigCheck check_config_file(const std::string& path) {
    auto text = read_text_file(path);
    if (!text) return ConfigCheck{.errors = {path + ": " + text.error()}};
    return check_config_string(*text, path);
}

}  // namespace rustun
