#include "options.hpp"

#include <arpa/inet.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <type_traits>

#include "crypto/cipher_spec.hpp"

namespace rustun::client {

const cli::Spec& cli_spec() {
    static const cli::Spec spec{
        .program = "rustun-client",
        .usage = "-s HOST:PORT[,HOST:PORT...] -i ID [options]",
        .about = "A Linux TUN client for Rustun gateways (docs/client.md).",
        .options = {
            {"server", 's', "HOST:PORT[,HOST:PORT...]",
             "gateway TCP address (required); several (repeat or comma-separate) = failover order"},
            {"identity", 'i', "ID", "this client's identity (required)"},
            {"crypto", 'k', "SPEC", "chacha20:KEY | aes256:KEY | xor:KEY | plain (default chacha20:rustun)"},
            {nullptr, 'c', nullptr, "", "crypto"},  // the reference client's spelling; -c is --config elsewhere
            {"keepalive-interval", 0, "SECS", "KeepAlive period to the gateway (default 10)"},
            {"keepalive-threshold", 0, "N", "reconnect after (N-1) intervals without any frame (default 5)"},
            {"enable-p2p", 0, nullptr, "direct UDP paths to peers, relay as fallback"},
            {"p2p-port", 0, "PORT", "local UDP port for P2P (default 51258)"},
            {"relay", 0, "tcp|udp", "relay transport (default tcp; udp needs the gateway's dataplane)"},
            {"udp-relay", 0, "HOST:PORT[,...]",
             "gateway UDP relay address, one per --server address (default: each server's host and port)"},
            {"public-addr", 0, "IP", "advertise this P2P address"},
            {"public-addr-cmd", 0, "CMD", "run CMD (sh -c) to learn the address (first line of its output)"},
            {"public-addr-stun", 0, "HOST:PORT", "learn the address from an RFC 5389 STUN server"},
            {"address-check-interval", 0, "SECS", "re-check the public address (default 300)"},
            {"tun", 0, "NAME", "TUN device name (default rustun%d: the kernel numbers it)"},
            {"mtu", 0, "BYTES", "TUN MTU (default 1430)"},
            {"status-socket", 0, "PATH", "unix socket that returns the status JSON on connect"},
            {"http-port", 0, "PORT", "HTTP status on 127.0.0.1:PORT (GET /status, /health)"},
            {"log-level", 0, "LEVEL", "trace|debug|info|warn|error|off (default info)"},
            {"log-format", 0, "FORMAT", "text|journal|json (default journal when stderr is the journal, else text)"},
        },
        .epilog = "-c SPEC (the reference client's spelling of -k/--crypto) still works, with a warning.",
    };
    return spec;
}

namespace {

Error flag_error(std::string_view flag, const std::string& what) {
    return make_error(std::string(flag) + ": " + what);
}

bool parse_uint(const std::string& s, uint64_t max, uint64_t& out) {
    if (s.empty() || s.size() > 20) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    errno = 0;
    char* end = nullptr;
    unsigned long long v = strtoull(s.c_str(), &end, 10);
    if (errno != 0 || *end != 0 || v > max) return false;
    out = v;
    return true;
}

bool is_ip_literal(const std::string& s) {
    unsigned char buf[16];
    return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

}  // namespace

Status split_host_port(const std::string& text, const char* flag, std::string& host, uint16_t& port) {
    std::string h, p;
    if (!text.empty() && text[0] == '[') {
        size_t close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return flag_error(flag, "expected [IPv6]:PORT, got \"" + text + "\"");
        h = text.substr(1, close - 1);
        p = text.substr(close + 2);
    } else {
        size_t colon = text.rfind(':');
        if (colon == std::string::npos || colon == 0)
            return flag_error(flag, "expected HOST:PORT, got \"" + text + "\"");
        h = text.substr(0, colon);
        p = text.substr(colon + 1);
        if (h.find(':') != std::string::npos)
            return flag_error(flag, "an IPv6 host must be written [addr]:port, got \"" + text + "\"");
    }
    uint64_t v = 0;
    if (!parse_uint(p, 65535, v) || v == 0) return flag_error(flag, "port must be 1..65535, got \"" + p + "\"");
    host = h;
    port = static_cast<uint16_t>(v);
    return {};
}

std::string ServerAddress::text() const {
    return host.find(':') != std::string::npos ? "[" + host + "]:" + std::to_string(port)
                                               : host + ":" + std::to_string(port);
}

Status parse_address_list(const std::vector<std::string>& values, const char* flag, std::vector<ServerAddress>& out) {
    out.clear();
    for (const std::string& v : values) {
        size_t start = 0;
        for (;;) {
            const size_t comma = v.find(',', start);
            const std::string item = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
            if (item.empty()) return flag_error(flag, "empty address in the list \"" + v + "\"");
            ServerAddress a;
            if (Status st = split_host_port(item, flag, a.host, a.port); !st) return st;
            out.push_back(std::move(a));
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
    }
    return {};
}

const ServerAddress& udp_relay_for(const Options& o, size_t i) {
    return i < o.udp_relays.size() ? o.udp_relays[i] : o.servers[i];
}

namespace {

std::vector<std::string> all_values(const cli::Parsed& a, std::string_view name) {
    std::vector<std::string> out;
    for (const auto& [k, v] : a.given)
        if (k == name) out.push_back(v);
    return out;
}

Status parse_values(const cli::Parsed& a, Options& o) {
    Status st;
    if (!(st = parse_address_list(all_values(a, "server"), "--server", o.servers))) return st;
    o.identity = a.value("identity");
    if (a.has("identity") && o.identity.empty()) return flag_error("--identity", "identity must not be empty");
    if (a.has("crypto")) {
        o.crypto = a.value("crypto");
        if (auto spec = CipherSpec::parse(o.crypto); !spec) return flag_error("--crypto", spec.error());
    }
    o.enable_p2p = a.has("enable-p2p");
    auto u32 = [&](const char* name, uint64_t min, uint64_t max, auto& field) -> Status {
        auto v = a.uint(name, min, max, field);
        if (!v) return make_error(v.error());
        field = static_cast<std::remove_reference_t<decltype(field)>>(*v);
        return {};
    };
    if (!(st = u32("keepalive-interval", 1, 3600, o.keepalive_interval_s))) return st;
    if (!(st = u32("keepalive-threshold", 2, 1000, o.keepalive_threshold))) return st;
    if (!(st = u32("p2p-port", 1, 65535, o.p2p_port))) return st;
    if (!(st = u32("address-check-interval", 1, 86400, o.address_check_interval_s))) return st;
    if (!(st = u32("mtu", 576, 65000, o.mtu))) return st;
    if (!(st = u32("http-port", 1, 65535, o.http_port))) return st;
    if (a.has("relay")) {
        const std::string s = a.value("relay");
        if (s == "tcp") o.relay = RelayMode::Tcp;
        else if (s == "udp") o.relay = RelayMode::Udp;
        else return flag_error("--relay", "expected tcp or udp, got \"" + s + "\"");
    }
    if (!(st = parse_address_list(all_values(a, "udp-relay"), "--udp-relay", o.udp_relays))) return st;
    int sources = 0;
    if (a.has("public-addr")) {
        o.public_addr = a.value("public-addr");
        if (!is_ip_literal(o.public_addr))
            return flag_error("--public-addr", "expected an IPv4 or IPv6 address, got \"" + o.public_addr + "\"");
        o.addr_source = AddrSource::Fixed;
        ++sources;
    }
    if (a.has("public-addr-cmd")) {
        o.public_addr_cmd = a.value("public-addr-cmd");
        if (o.public_addr_cmd.empty()) return flag_error("--public-addr-cmd", "command must not be empty");
        o.addr_source = AddrSource::Command;
        ++sources;
    }
    if (a.has("public-addr-stun")) {
        if (!(st = split_host_port(a.value("public-addr-stun"), "--public-addr-stun", o.stun_host, o.stun_port)))
            return st;
        o.addr_source = AddrSource::Stun;
        ++sources;
    }
    if (a.has("tun")) {
        o.tun_name = a.value("tun");
        if (o.tun_name.empty() || o.tun_name.size() > 15)
            return flag_error("--tun", "interface names are 1..15 characters, got \"" + o.tun_name + "\"");
    }
    if (a.has("status-socket")) {
        o.status_socket = a.value("status-socket");
        if (o.status_socket.empty() || o.status_socket.size() > 100)
            return flag_error("--status-socket", "path must be 1..100 characters");
    }
    if (a.has("log-level") && !log_level_from_string(a.value("log-level"), o.log_level))
        return flag_error("--log-level",
                          "expected trace, debug, info, warn, error or off, got \"" + a.value("log-level") + "\"");
    if (a.has("log-format")) {
        LogFormat f;
        if (!log_format_from_string(a.value("log-format"), f))
            return flag_error("--log-format", "expected text, journal or json, got \"" + a.value("log-format") + "\"");
        o.log_format = f;
    }
    if (o.servers.empty()) return flag_error("-s/--server", "required (HOST:PORT of the gateway)");
    if (o.identity.empty()) return flag_error("-i/--identity", "required");
    if (sources > 1)
        return make_error("--public-addr, --public-addr-cmd and --public-addr-stun are exclusive: give one");
    if (!o.udp_relays.empty() && o.relay != RelayMode::Udp)
        return flag_error("--udp-relay", "only meaningful with --relay udp");
    if (!o.udp_relays.empty() && o.udp_relays.size() != o.servers.size())
        return flag_error("--udp-relay", "give one address per --server address (" + std::to_string(o.servers.size()) +
                                             "), got " + std::to_string(o.udp_relays.size()));
    return {};
}

}  // namespace

std::optional<int> parse_options(int argc, char** argv, Options& o) {
    cli::Parsed a;
    if (auto code = cli::parse(cli_spec(), argc, argv, a)) return code;
    if (Status st = parse_values(a, o); !st) return cli::usage_error(cli_spec(), st.error());
    return std::nullopt;
}

}  // namespace rustun::client
