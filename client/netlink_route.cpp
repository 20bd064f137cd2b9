#include "netlink_route.hpp"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace rustun::client {

namespace {

void put_attr(std::vector<uint8_t>& m, uint16_t type, const void* data, uint16_t len) {
    rtattr a{};
    a.rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
    a.rta_type = type;
    const size_t off = m.size();
    m.resize(off + RTA_SPACE(len));
    std::memcpy(m.data() + off, &a, sizeof a);
    std::memcpy(m.data() + off + RTA_LENGTH(0), data, len);
}

}  // namespace

std::vector<uint8_t> build_route_request(RouteOp op, uint32_t seq, uint32_t network, uint8_t prefix_len,
                                         uint32_t ifindex) {
    std::vector<uint8_t> m(NLMSG_LENGTH(sizeof(rtmsg)));
    nlmsghdr h{};
    h.nlmsg_type = op == RouteOp::Replace ? RTM_NEWROUTE : RTM_DELROUTE;
    h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (op == RouteOp::Replace ? NLM_F_CREATE | NLM_F_REPLACE : 0);
    h.nlmsg_seq = seq;
    rtmsg r{};
    r.rtm_family = AF_INET;
    r.rtm_dst_len = prefix_len;
    r.rtm_table = RT_TABLE_MAIN;
    if (op == RouteOp::Replace) {
        r.rtm_protocol = RTPROT_BOOT;
        r.rtm_scope = RT_SCOPE_LINK;
        r.rtm_type = RTN_UNICAST;
    } else {
        r.rtm_scope = RT_SCOPE_NOWHERE;
    }
    std::memcpy(m.data() + NLMSG_LENGTH(0), &r, sizeof r);
    const uint32_t dst_be = htonl(network);
    put_attr(m, RTA_DST, &dst_be, sizeof dst_be);
    put_attr(m, RTA_OIF, &ifindex, sizeof ifindex);
    h.nlmsg_len = static_cast<uint32_t>(m.size());
    std::memcpy(m.data(), &h, sizeof h);
    return m;
}

int parse_route_ack(std::span<const uint8_t> msg, uint32_t seq) {
    size_t off = 0;
    while (off + sizeof(nlmsghdr) <= msg.size()) {
        nlmsghdr h;
        std::memcpy(&h, msg.data() + off, sizeof h);
        if (h.nlmsg_len < sizeof h || off + h.nlmsg_len > msg.size()) break;
        if (h.nlmsg_type == NLMSG_ERROR && h.nlmsg_seq == seq && h.nlmsg_len >= NLMSG_LENGTH(sizeof(nlmsgerr))) {
            nlmsgerr e;
            std::memcpy(&e, msg.data() + off + NLMSG_LENGTH(0), sizeof e);
            return e.error;
        }
        off += NLMSG_ALIGN(h.nlmsg_len);
    }
    return -EBADMSG;
}

RouteNetlink::~RouteNetlink() {
    if (fd_ >= 0) ::close(fd_);
}

Status RouteNetlink::apply(RouteOp op, uint32_t network, uint8_t prefix_len, uint32_t ifindex) {
    if (fd_ < 0) {
        fd_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd_ < 0) return make_error(std::string("netlink socket: ") + strerror(errno));
        sockaddr_nl local{};
        local.nl_family = AF_NETLINK;
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
            const std::string err = strerror(errno);
            ::close(fd_);
            fd_ = -1;
            return make_error("netlink bind: " + err);
        }
    }
    const uint32_t seq = ++seq_;
    const std::vector<uint8_t> req = build_route_request(op, seq, network, prefix_len, ifindex);
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd_, req.data(), req.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) !=
        (ssize_t)req.size())
        return make_error(std::string("netlink send: ") + strerror(errno));
    // The ACK is queued before sendto() returns; stale answers (an earlier request's, after a
    // timeout) are skipped by their sequence number.
    uint8_t buf[8192];
    for (;;) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 1000) <= 0) return make_error("netlink: no answer from the kernel");
        ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return make_error(std::string("netlink recv: ") + strerror(errno));
        }
        const int rc = parse_route_ack(std::span<const uint8_t>(buf, (size_t)n), seq);
        if (rc == -EBADMSG) continue;
        if (rc != 0) return make_error(strerror(-rc));
        return {};
    }
}

}  // namespace rustun::client
