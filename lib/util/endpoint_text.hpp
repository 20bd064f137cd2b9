// Text for IP addresses and endpoints, one format everywhere (logs, status, rustunctl):
//   IPv4 "a.b.c.d:port", IPv6 "[v6]:port" with v6 in RFC 5952 form (inet_ntop).
// Allocates a std::string: for events, logs and status, never per packet.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "shm/channel_layout.hpp"

namespace rustun {

// "a.b.c.d" of an IPv4 address in host byte order (10.0.1.2 == 0x0A000102).
std::string ipv4_text(uint32_t host_order);

// "a.b.c.d" or "v6" of 4 or 16 address bytes in network order; `v4` selects which.
std::string ip_text(bool v4, const uint8_t* addr);

// "a.b.c.d:port" or "[v6]:port"; `port` in host byte order.
std::string ip_port_text(bool v4, const uint8_t* addr, uint16_t port);

// A shm endpoint: family 4 is IPv4, any other family is printed as IPv6.
std::string endpoint_text(const shm::Endpoint& e);

// How sockaddr_text prints an IPv4-mapped IPv6 address (::ffff:a.b.c.d), which a dual-stack
// socket reports for IPv4 peers.
enum class V4Mapped : uint8_t {
    AsIpv6,  // "[::ffff:192.0.2.1]:port" (what the socket reported)
    AsIpv4,  // "192.0.2.1:port" (what the user configured)
};
// AF_INET or AF_INET6 socket address (port in network order inside, printed in host order);
// "?" for any other family.
std::string sockaddr_text(const sockaddr_storage& ss, V4Mapped mapped = V4Mapped::AsIpv6);

}  // namespace rustun
