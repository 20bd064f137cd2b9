#include "config/address.hpp"

#include <arpa/inet.h>

#include <cstdio>

#include "util/endian.hpp"
#include "util/endpoint_text.hpp"

namespace rustun {

namespace {

// Parses a decimal number of 1..max_digits digits without leading zeros (except "0" itself).
std::optional<uint32_t> parse_decimal(std::string_view s, size_t max_digits) {
    if (s.empty() || s.size() > max_digits) return std::nullopt;
    if (s.size() > 1 && s[0] == '0') return std::nullopt;
    uint32_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<uint32_t>(c - '0');
    }
    return v;
}

}  // namespace

std::string Ipv4Addr::to_string() const { return ipv4_text(value); }

std::optional<Ipv4Addr> parse_ipv4(std::string_view text) {
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
        size_t dot = text.find('.');
        if ((i < 3) != (dot != std::string_view::npos)) return std::nullopt;
        std::string_view part = i < 3 ? text.substr(0, dot) : text;
        auto octet = parse_decimal(part, 3);
        if (!octet || *octet > 255) return std::nullopt;
        value = value << 8 | *octet;
        if (i < 3) text.remove_prefix(dot + 1);
    }
    return Ipv4Addr{value};
}

std::optional<uint8_t> netmask_prefix_len(Ipv4Addr mask) {
    // Contiguous iff the inverted mask is of the form 0...01...1, i.e. inv & (inv + 1) == 0.
    uint32_t inv = ~mask.value;
    if ((inv & (inv + 1)) != 0) return std::nullopt;
    uint8_t len = 0;
    for (uint32_t m = mask.value; m != 0; m <<= 1) ++len;
    return len;
}

std::string Ipv4Cidr::to_string() const {
    return addr.to_string() + "/" + std::to_string(prefix_len);
}

std::optional<Ipv4Cidr> parse_ipv4_cidr(std::string_view text) {
    size_t slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    auto addr = parse_ipv4(text.substr(0, slash));
    auto len = parse_decimal(text.substr(slash + 1), 2);
    if (!addr || !len || *len > 32) return std::nullopt;
    return Ipv4Cidr{*addr, static_cast<uint8_t>(*len)};
}

std::string SocketAddress::to_string() const {
    return ip_port_text(family == AddressFamily::V4, bytes.data(), port);
}

Result<SocketAddress> parse_socket_address(std::string_view text) {
    static constexpr const char* kExpected =
        "expected \"a.b.c.d:port\" or \"[ipv6]:port\" with port 0..65535";
    SocketAddress out;
    std::string_view host, port;
    if (!text.empty() && text[0] == '[') {
        size_t close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return make_error(kExpected);
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
        // inet_pton needs a NUL-terminated string; an IPv6 literal is at most 45 characters.
        if (host.size() >= INET6_ADDRSTRLEN) return make_error(kExpected);
        char buf[INET6_ADDRSTRLEN];
        host.copy(buf, host.size());
        buf[host.size()] = '\0';
        if (inet_pton(AF_INET6, buf, out.bytes.data()) != 1)
            return make_error("invalid IPv6 address \"" + std::string(host) + "\"; " + kExpected);
        out.family = AddressFamily::V6;
    } else {
        size_t colon = text.rfind(':');
        if (colon == std::string_view::npos) return make_error(kExpected);
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        auto a = parse_ipv4(host);
        if (!a)
            return make_error("invalid IPv4 address \"" + std::string(host) + "\"; " + kExpected);
        out.family = AddressFamily::V4;
        store_be32(out.bytes.data(), a->value);
    }
    auto p = parse_decimal(port, 5);
    if (!p || *p > 65535)
        return make_error("invalid port \"" + std::string(port) + "\"; " + kExpected);
    out.port = static_cast<uint16_t>(*p);
    return out;
}

}  // namespace rustun
