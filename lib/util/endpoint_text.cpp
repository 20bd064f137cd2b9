#include "endpoint_text.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdio>

namespace rustun {

std::string ipv4_text(uint32_t host_order) {
    char b[INET_ADDRSTRLEN];
    std::snprintf(b, sizeof b, "%u.%u.%u.%u", host_order >> 24, (host_order >> 16) & 0xff, (host_order >> 8) & 0xff,
                  host_order & 0xff);
    return b;
}

std::string ip_text(bool v4, const uint8_t* addr) {
    char b[INET6_ADDRSTRLEN] = "?";
    inet_ntop(v4 ? AF_INET : AF_INET6, addr, b, sizeof b);
    return b;
}

std::string ip_port_text(bool v4, const uint8_t* addr, uint16_t port) {
    char ip[INET6_ADDRSTRLEN] = "?";
    inet_ntop(v4 ? AF_INET : AF_INET6, addr, ip, sizeof ip);
    char out[INET6_ADDRSTRLEN + 16];
    std::snprintf(out, sizeof out, v4 ? "%s:%u" : "[%s]:%u", ip, static_cast<unsigned>(port));
    return out;
}

std::string endpoint_text(const shm::Endpoint& e) {
    return ip_port_text(e.family == static_cast<uint8_t>(shm::AddrFamily::V4), e.addr, e.port);
}

std::string sockaddr_text(const sockaddr_storage& ss, V4Mapped mapped) {
    if (ss.ss_family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
        return ip_port_text(true, reinterpret_cast<const uint8_t*>(&a->sin_addr), ntohs(a->sin_port));
    }
    if (ss.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
        if (mapped == V4Mapped::AsIpv4 && IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
            return ip_port_text(true, a->sin6_addr.s6_addr + 12, ntohs(a->sin6_port));
        return ip_port_text(false, a->sin6_addr.s6_addr, ntohs(a->sin6_port));
    }
    return "?";
}

}  // namespace rustun
