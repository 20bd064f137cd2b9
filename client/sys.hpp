// Operating-system plumbing for rustun-client: the TUN device (ioctl), peer routes (`ip route`),
// running a helper command, and host-name resolution. Set-up and change paths only, never per
// packet.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

#include "util/endian.hpp"
#include "util/endpoint_text.hpp"
#include "util/result.hpp"

namespace rustun::client {

class Tun {
public:
    Tun() = default;
    ~Tun();
    Tun(const Tun&) = delete;
    Tun& operator=(const Tun&) = delete;

    // Opens /dev/net/tun (IFF_TUN | IFF_NO_PI), non-blocking. `name` may contain %d.
    Status open(const std::string& name);
    // Address, netmask, MTU, up (ioctl). Re-callable with a new address.
    Status configure(uint32_t addr_host, uint32_t mask_host, uint32_t mtu);
    int fd() const { return fd_; }
    const std::string& name() const { return name_; }

private:
    int fd_ = -1;
    std::string name_;
};

// Runs argv[0] (PATH lookup) with the arguments, waits; stderr of the child is kept. Returns the
// exit status (0 = success) or -1 if it could not be started.
int run_argv(const std::vector<std::string>& argv, std::string* output = nullptr);

// Runs `sh -c CMD` bounded by `timeout_s`; returns the first line of its stdout, trimmed.
Result<std::string> run_shell_first_line(const std::string& cmd, int timeout_s);

// Resolves HOST (name or literal) and port to a socket address (first result; IPv4 preferred
// when `prefer_v4`).
Result<sockaddr_storage> resolve(const std::string& host, uint16_t port, int socktype, socklen_t& len);

// Inner IPv4 packets: true when `len` bytes hold an IPv4 header (20 bytes, version 4); the
// source and destination addresses in host order.
inline bool is_ipv4_packet(const uint8_t* pkt, size_t len) { return len >= 20 && (pkt[0] >> 4) == 4; }
inline uint32_t ipv4_source(const uint8_t* pkt) { return load_be32(pkt + 12); }
inline uint32_t ipv4_destination(const uint8_t* pkt) { return load_be32(pkt + 16); }

// Address text: ipv4_text and sockaddr_text come from util/endpoint_text.hpp (the client prints
// v4-mapped addresses as IPv4: sockaddr_text(ss, V4Mapped::AsIpv4)).
// A P2P address as the client prints it: "a.b.c.d:port" when v4-mapped, "[v6]:port" otherwise.
std::string address_text(const sockaddr_in6& a);
// An advertised endpoint (IP literal and port) for status and logs: "a.b.c.d:port",
// "[v6]:port", "" when `ip` is empty.
std::string endpoint_text(const std::string& ip, uint16_t port);
// An IP literal (IPv4 or IPv6) and port -> IPv6 socket address (IPv4 as ::ffff:a.b.c.d) for the
// dual-stack P2P socket. False if `ip` is not a literal.
bool make_v6_sockaddr(const std::string& ip, uint16_t port, sockaddr_in6& out);
// Any AF_INET / AF_INET6 address -> AF_INET6 (v4-mapped for IPv4).
sockaddr_in6 to_v6(const sockaddr_storage& ss);
bool same_endpoint(const sockaddr_in6& a, const sockaddr_in6& b);

// Sends one datagram without blocking: on a connected socket when `to` is null, otherwise to
// `to` (an AF_INET6 address, v4-mapped for IPv4; converted when the socket is AF_INET). True
// when the whole datagram was sent.
bool send_datagram(int fd, int family, const uint8_t* data, size_t len, const sockaddr_in6* to);

}  // namespace rustun::client
