#include "options.hpp"

#include <arpa/inet.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "crypto/cipher_spec.hpp"

namespace rustun::client {

const char* usage_text() {
    return "usage: rustun-client -s HOST:PORT -i ID [options]\n"
           "\n"
           "  -s, --server HOST:PORT          gateway TCP address (required)\n"
           "  -i, --identity ID               this client's identity (required)\n"
           "  -c, --crypto SPEC               chacha20:KEY | aes256:KEY | xor:KEY | plain (default chacha20:rustun)\n"
           "      --keepalive-interval SECS   KeepAlive period to the gateway (default 10)\n"
           "      --keepalive-threshold N     reconnect after (N-1) intervals without any frame (default 5)\n"
           "      --enable-p2p                direct UDP paths to peers, relay as fallback\n"
           "      --p2p-port PORT             local UDP port for P2P (default 51258)\n"
           "      --relay tcp|udp             relay transport (default tcp; udp needs the gateway's dataplane)\n"
           "      --udp-relay HOST:PORT       gateway UDP relay address (default: the server host and port)\n"
           "      --public-addr IP            advertise this P2P address\n"
           "      --public-addr-cmd CMD       run CMD (sh -c) to learn the address (first line of its output)\n"
           "      --public-addr-stun HOST:PORT  learn the address from an RFC 5389 STUN server\n"
           "      --address-check-interval SECS  re-check the public address (default 300)\n"
           "      --tun NAME                  TUN device name (default rustun%d: the kernel numbers it)\n"
           "      --mtu BYTES                 TUN MTU (default 1430)\n"
           "      --status-socket PATH        unix socket that returns the status JSON on connect\n"
           "      --http-port PORT            HTTP status on 127.0.0.1:PORT (GET /status, /health)\n"
           "      --log-level LEVEL           trace|debug|info|warn|error|off (default info)\n"
           "      --log-format FORMAT         text|journal|json (default journal when stderr is the journal, else text)\n"
           "  -V, --version                   print the version and exit\n"
           "  -h, --help                      this text\n";
}

namespace {

Error flag_error(std::string_view flag, const std::string& what) {
    return make_error("rustun-client: " + std::string(flag) + ": " + what);
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

Result<ParseOutcome> parse_options(int argc, char** argv) {
    ParseOutcome out;
    Options& o = out.options;
    int sources = 0;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        std::string flag = arg, value;
        bool has_inline = false;
        if (arg.rfind("--", 0) == 0) {
            size_t eq = arg.find('=');
            if (eq != std::string::npos) {
                flag = arg.substr(0, eq);
                value = arg.substr(eq + 1);
                has_inline = true;
            }
        }
        auto need = [&](std::string& v) -> Status {
            if (has_inline) {
                v = value;
                return {};
            }
            if (i + 1 >= argc) return flag_error(flag, "missing value");
            v = argv[++i];
            return {};
        };
        auto need_uint = [&](uint64_t min, uint64_t max, uint64_t& v) -> Status {
            std::string s;
            Status st = need(s);
            if (!st) return st;
            if (!parse_uint(s, max, v) || v < min)
                return flag_error(flag, "expected an integer " + std::to_string(min) + ".." + std::to_string(max) +
                                            ", got \"" + s + "\"");
            return {};
        };
        Status st;
        uint64_t u = 0;
        std::string s;
        if (flag == "-h" || flag == "--help") {
            out.help = true;
            return out;
        } else if (flag == "-V" || flag == "--version") {
            out.version = true;
            return out;
        } else if (flag == "-s" || flag == "--server") {
            if (!(st = need(s))) return make_error(st.error());
            if (!(st = split_host_port(s, "--server", o.server_host, o.server_port))) return make_error(st.error());
        } else if (flag == "-i" || flag == "--identity") {
            if (!(st = need(o.identity))) return make_error(st.error());
            if (o.identity.empty()) return flag_error(flag, "identity must not be empty");
        } else if (flag == "-c" || flag == "--crypto") {
            if (!(st = need(o.crypto))) return make_error(st.error());
            auto spec = CipherSpec::parse(o.crypto);
            if (!spec) return flag_error(flag, spec.error());
        } else if (flag == "--enable-p2p") {
            if (has_inline) return flag_error(flag, "takes no value");
            o.enable_p2p = true;
        } else if (flag == "--keepalive-interval") {
            if (!(st = need_uint(1, 3600, u))) return make_error(st.error());
            o.keepalive_interval_s = static_cast<uint32_t>(u);
        } else if (flag == "--keepalive-threshold") {
            if (!(st = need_uint(2, 1000, u))) return make_error(st.error());
            o.keepalive_threshold = static_cast<uint32_t>(u);
        } else if (flag == "--p2p-port") {
            if (!(st = need_uint(1, 65535, u))) return make_error(st.error());
            o.p2p_port = static_cast<uint16_t>(u);
        } else if (flag == "--relay") {
            if (!(st = need(s))) return make_error(st.error());
            if (s == "tcp") o.relay = RelayMode::Tcp;
            else if (s == "udp") o.relay = RelayMode::Udp;
            else return flag_error(flag, "expected tcp or udp, got \"" + s + "\"");
        } else if (flag == "--udp-relay") {
            if (!(st = need(s))) return make_error(st.error());
            if (!(st = split_host_port(s, "--udp-relay", o.udp_relay_host, o.udp_relay_port)))
                return make_error(st.error());
        } else if (flag == "--public-addr") {
            if (!(st = need(o.public_addr))) return make_error(st.error());
            if (!is_ip_literal(o.public_addr))
                return flag_error(flag, "expected an IPv4 or IPv6 address, got \"" + o.public_addr + "\"");
            o.addr_source = AddrSource::Fixed;
            ++sources;
        } else if (flag == "--public-addr-cmd") {
            if (!(st = need(o.public_addr_cmd))) return make_error(st.error());
            if (o.public_addr_cmd.empty()) return flag_error(flag, "command must not be empty");
            o.addr_source = AddrSource::Command;
            ++sources;
        } else if (flag == "--public-addr-stun") {
            if (!(st = need(s))) return make_error(st.error());
            if (!(st = split_host_port(s, "--public-addr-stun", o.stun_host, o.stun_port)))
                return make_error(st.error());
            o.addr_source = AddrSource::Stun;
            ++sources;
        } else if (flag == "--address-check-interval") {
            if (!(st = need_uint(1, 86400, u))) return make_error(st.error());
            o.address_check_interval_s = static_cast<uint32_t>(u);
        } else if (flag == "--tun") {
            if (!(st = need(o.tun_name))) return make_error(st.error());
            if (o.tun_name.empty() || o.tun_name.size() > 15)
                return flag_error(flag, "interface names are 1..15 characters, got \"" + o.tun_name + "\"");
        } else if (flag == "--mtu") {
            if (!(st = need_uint(576, 65000, u))) return make_error(st.error());
            o.mtu = static_cast<uint32_t>(u);
        } else if (flag == "--status-socket") {
            if (!(st = need(o.status_socket))) return make_error(st.error());
            if (o.status_socket.empty() || o.status_socket.size() > 100)
                return flag_error(flag, "path must be 1..100 characters");
        } else if (flag == "--http-port") {
            if (!(st = need_uint(1, 65535, u))) return make_error(st.error());
            o.http_port = static_cast<uint16_t>(u);
        } else if (flag == "--log-level") {
            if (!(st = need(s))) return make_error(st.error());
            if (!log_level_from_string(s, o.log_level))
                return flag_error(flag, "expected trace, debug, info, warn, error or off, got \"" + s + "\"");
        } else if (flag == "--log-format") {
            if (!(st = need(s))) return make_error(st.error());
            LogFormat f;
            if (!log_format_from_string(s, f)) return flag_error(flag, "expected text, journal or json, got \"" + s + "\"");
            o.log_format = f;
        } else {
            return make_error("rustun-client: unknown option \"" + arg + "\" (see --help)");
        }
    }
    if (o.server_host.empty()) return flag_error("-s/--server", "required (HOST:PORT of the gateway)");
    if (o.identity.empty()) return flag_error("-i/--identity", "required");
    if (sources > 1)
        return make_error(
            "rustun-client: --public-addr, --public-addr-cmd and --public-addr-stun are exclusive: give one");
    if (o.udp_relay_port != 0 && o.relay != RelayMode::Udp)
        return flag_error("--udp-relay", "only meaningful with --relay udp");
    return out;
}

}  // namespace rustun::client
