// IPv4 routes over rtnetlink (NETLINK_ROUTE), as `ip route replace|del CIDR dev IF` sends them:
// table main, for a replace protocol boot, scope link, type unicast (NLM_F_CREATE |
// NLM_F_REPLACE); for a delete protocol 0, scope nowhere, type unspec. Attributes RTA_DST (the
// network, 4 bytes, network order) then RTA_OIF (u32 interface index). Every request asks for an
// ACK; the kernel answers it before send() returns.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "util/result.hpp"

namespace rustun::client {

enum class RouteOp : uint8_t { Replace, Delete };

// The whole request (nlmsghdr + rtmsg + attributes), 44 bytes; `network` in host order.
std::vector<uint8_t> build_route_request(RouteOp op, uint32_t seq, uint32_t network, uint8_t prefix_len,
                                         uint32_t ifindex);

// The kernel's answer to request `seq`: 0 for an ACK, a negative errno for an error, and
// -EBADMSG when `msg` holds no NLMSG_ERROR message for `seq`.
int parse_route_ack(std::span<const uint8_t> msg, uint32_t seq);

class RouteNetlink {
public:
    RouteNetlink() = default;
    ~RouteNetlink();
    RouteNetlink(const RouteNetlink&) = delete;
    RouteNetlink& operator=(const RouteNetlink&) = delete;

    // Sends one request and waits (at most 1 s) for its ACK; opens the socket on first use.
    Status apply(RouteOp op, uint32_t network, uint8_t prefix_len, uint32_t ifindex);

private:
    int fd_ = -1;
    uint32_t seq_ = 0;
};

}  // namespace rustun::client
