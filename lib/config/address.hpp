// Text <-> value conversions for the addresses that appear in the configuration: IPv4 addresses,
// netmasks, CIDRs and listen socket addresses. Configuration-time only (parsers return
// std::optional / Result and allocate on error); the routing hot path uses the value types only.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace rustun {

// An IPv4 address. Invariant: `value` is in host byte order (10.0.1.2 == 0x0A000102).
struct Ipv4Addr {
    uint32_t value = 0;

    // Dotted-quad text "a.b.c.d". Round-trips through parse_ipv4().
    std::string to_string() const;
    auto operator<=>(const Ipv4Addr&) const = default;
};

// Strict dotted quad: exactly four decimal octets 0..255, no sign, no leading zeros ("010" is
// rejected, as Rust's Ipv4Addr rejects it), no surrounding spaces. Therefore to_string() of the
// result reproduces the input text exactly.
std::optional<Ipv4Addr> parse_ipv4(std::string_view text);

// Netmask with contiguous leading one bits (255.255.255.0, 255.255.0.0, 0.0.0.0, 255.255.255.255).
// Returns the prefix length 0..32, or nullopt if `mask` is not contiguous.
std::optional<uint8_t> netmask_prefix_len(Ipv4Addr mask);

// The mask with `prefix_len` leading one bits; prefix_len must be <= 32.
constexpr uint32_t prefix_mask(uint8_t prefix_len) {
    return prefix_len == 0 ? 0u : ~uint32_t{0} << (32 - prefix_len);
}

// An IPv4 CIDR "a.b.c.d/n" as written. Host bits are allowed and kept (as in the reference, whose
// ipnet parse keeps them): to_string() reproduces the text; network() clears them.
// Invariant: prefix_len <= 32.
struct Ipv4Cidr {
    Ipv4Addr addr;
    uint8_t prefix_len = 0;

    uint32_t mask() const { return prefix_mask(prefix_len); }
    uint32_t network() const { return addr.value & mask(); }
    bool contains(Ipv4Addr a) const { return (a.value & mask()) == network(); }
    std::string to_string() const;
    auto operator<=>(const Ipv4Cidr&) const = default;
};

// Strict "a.b.c.d/n": parse_ipv4() for the address, n decimal 0..32 without leading zeros.
std::optional<Ipv4Cidr> parse_ipv4_cidr(std::string_view text);

enum class AddressFamily : uint8_t { V4 = 4, V6 = 6 };

// A listen address: an IP literal and a port. No host names (nothing is resolved).
struct SocketAddress {
    AddressFamily family = AddressFamily::V4;
    // Network byte order; for V4 only bytes[0..3] are used and the rest stay zero.
    std::array<uint8_t, 16> bytes{};
    // Host byte order. 0 means "the kernel picks a port" (useful in tests).
    uint16_t port = 0;

    // "a.b.c.d:port" or "[v6]:port" (v6 in RFC 5952 form).
    std::string to_string() const;
    bool operator==(const SocketAddress&) const = default;
};

// Parses "a.b.c.d:port" (strict parse_ipv4) or "[ipv6]:port" (any inet_pton-valid IPv6 text,
// no zone id). port is decimal 0..65535 without sign. The error says what was expected.
Result<SocketAddress> parse_socket_address(std::string_view text);

}  // namespace rustun
