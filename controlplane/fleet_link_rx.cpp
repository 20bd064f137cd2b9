// FleetLink's receiving side (docs/fleet.md, "Link"): connections other gateways open to our
// link port, length-prefixed link frames, their verification (format, sender a member of the
// fleet, the fleet key's tag, the sender's replay window — in that order, so that a stranger
// costs no AEAD and a forgery never moves a window) and the delivery of the relayed frame to a
// local client, exactly as the TCP relay delivers a Data frame: to its live UDP binding through
// the dataplane's TX ring, else to its TCP connection.
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "dataplane_link.hpp"
#include "fleet_link_impl.hpp"
#include "util/endian.hpp"
#include "util/endpoint_text.hpp"
#include "util/log.hpp"

namespace rustun::cp {

namespace {

constexpr size_t kLengthPrefix = 4;
// Room for one length prefix and the largest link frame: a connection holds at most this.
constexpr size_t kInboundBuffer = kLengthPrefix + fleet::kLinkMaxFrameSize;
// The dataplane TX ring the link uses: the one a worker with this index would (shared under its
// lock with that worker when the dataplane has fewer rings than the control plane has threads).
constexpr uint32_t kLinkTxIndex = 7;

Counter counter_of(fleet::LinkCheck c) {
    switch (c) {
        case fleet::LinkCheck::BadTag: return Counter::fleet_link_rx_bad_tag;
        case fleet::LinkCheck::UnknownSender: return Counter::fleet_link_rx_unknown_sender;
        case fleet::LinkCheck::Replay: return Counter::fleet_link_rx_replay;
        case fleet::LinkCheck::TooOld: return Counter::fleet_link_rx_too_old;
        default: return Counter::fleet_link_rx_bad_format;
    }
}

}  // namespace

void FleetLink::Impl::accept_inbound() {
    for (int i = 0; i < 64; ++i) {
        sockaddr_storage ss{};
        socklen_t sl = sizeof ss;
        const int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            return;
        }
        if (inbound.size() >= options.max_inbound) {
            counters.inc(Counter::fleet_link_inbound_refused);
            LOG_LIMITED(LogLevel::Warn, "fleet link: refused %s: %u link connections open", sockaddr_text(ss).c_str(),
                        options.max_inbound);
            ::close(fd);
            continue;
        }
        const uint64_t id = next_inbound++;
        LinkInbound& c = inbound[id];
        c.id = id;
        c.fd = fd;
        c.peer_text = sockaddr_text(ss);
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.u64 = kInboundTag | id;
        ::epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    }
}

void FleetLink::Impl::close_inbound(uint64_t id) {
    auto it = inbound.find(id);
    if (it == inbound.end()) return;
    ::epoll_ctl(epfd, EPOLL_CTL_DEL, it->second.fd, nullptr);
    ::close(it->second.fd);
    inbound.erase(it);
}

bool FleetLink::Impl::read_inbound(LinkInbound& c) {
    if (c.buf.empty()) c.buf.resize(kInboundBuffer);
    rx_members = state.snapshot();  // one per call (up to 16 reads), as a worker takes one per batch
    for (int reads = 0; reads < 16; ++reads) {
        const ssize_t r = ::read(c.fd, c.buf.data() + c.used, c.buf.size() - c.used);
        if (r < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        if (r == 0) return false;
        c.used += static_cast<size_t>(r);
        size_t pos = 0;
        while (c.used - pos >= kLengthPrefix) {
            const uint32_t len = load_be32(c.buf.data() + pos);
            if (len < fleet::kLinkFixedHeader || len > fleet::kLinkMaxFrameSize) {
                counters.inc(Counter::fleet_link_rx_bad_format);
                LOG_LIMITED(LogLevel::Warn, "fleet link: %s: link frame of %u bytes: closing", c.peer_text.c_str(), len);
                return false;
            }
            if (c.used - pos < kLengthPrefix + len) break;
            if (!on_link_frame(c.buf.data() + pos + kLengthPrefix, len, c.peer_text)) return false;
            pos += kLengthPrefix + len;
        }
        if (pos) {
            std::memmove(c.buf.data(), c.buf.data() + pos, c.used - pos);
            c.used -= pos;
        }
    }
    return true;
}

bool FleetLink::Impl::known_sender(std::string_view gateway_id, SteadyTime at) {
    if (gateway_id == member_cached && at - member_cached_at < kMemberRecheck) return true;
    window_key.assign(gateway_id);  // reused buffer: no allocation per frame once warm
    if (directory.link_address(gateway_id)) {
        member_seen[window_key] = at;
        member_cached.assign(gateway_id);
        member_cached_at = at;
        return true;
    }
    auto it = member_seen.find(window_key);
    if (it == member_seen.end() || at - it->second > kFormerMemberGrace) return false;
    counters.inc(Counter::fleet_link_rx_former_member);
    return true;
}

bool FleetLink::Impl::on_link_frame(const uint8_t* bytes, size_t len, const std::string& from) {
    fleet::LinkFrameView v;
    fleet::LinkCheck c = fleet::parse_link_frame(std::span<const uint8_t>(bytes, len), v);
    if (c == fleet::LinkCheck::Ok && !known_sender(v.h.sender, std::chrono::steady_clock::now()))
        c = fleet::LinkCheck::UnknownSender;
    if (c == fleet::LinkCheck::Ok) c = auth->open(*key, std::span<const uint8_t>(bytes, len), v);
    if (c != fleet::LinkCheck::Ok) {
        counters.inc(counter_of(c));
        LOG_LIMITED(LogLevel::Warn, "fleet link: %s: link frame refused (%s): closing", from.c_str(),
                    fleet::link_check_name(c));
        return false;  // a stranger or a forger: the connection goes
    }
    // Authenticated: only now may it move the sender's window.
    if (window_cached_ptr == nullptr || v.h.sender != window_cached) {
        window_cached.assign(v.h.sender);
        window_cached_ptr = &windows[window_cached];
    }
    c = window_cached_ptr->check_and_update(v.h.seq);
    if (c != fleet::LinkCheck::Ok) {
        counters.inc(counter_of(c));
        LOG_LIMITED(LogLevel::Warn, "fleet link: %s: link frame from '%.*s' refused (%s, seq %llu)", from.c_str(),
                    static_cast<int>(v.h.sender.size()), v.h.sender.data(), fleet::link_check_name(c),
                    static_cast<unsigned long long>(v.h.seq));
        return true;
    }
    counters.inc(Counter::fleet_link_rx);
    deliver(v);
    return true;
}

void FleetLink::Impl::deliver(const fleet::LinkFrameView& v) {
    if (!rx_members) rx_members = state.snapshot();
    const std::shared_ptr<Membership>& snap = rx_members;
    const Membership& m = *snap;
    ClientId dst = kNoClient;
    if (!v.h.identity.empty()) {
        dst = m.find(v.h.identity);
        if (dst != kNoClient && m.clusters[m.clients[dst].cluster].name != v.h.cluster) dst = kNoClient;
    } else {
        if (clusters_of != snap) {
            cluster_ids.clear();
            for (ClusterId i = 0; i < m.clusters.size(); ++i) cluster_ids.emplace(m.clusters[i].name, i);
            clusters_of = snap;
        }
        auto it = cluster_ids.find(std::string(v.h.cluster));
        if (it != cluster_ids.end()) dst = m.routes.lookup(it->second, v.h.dst_ip);
    }
    if (dst == kNoClient) {
        counters.inc(Counter::fleet_link_rx_no_client);
        return;
    }
    const ClientEntry& de = m.clients[dst];
    const uint32_t len = v.h.frame_len;
    if (dataplane && de.udp.live(std::chrono::steady_clock::now())) {
        bool sent = false;
        const shm::Endpoint ep = de.udp.endpoint.load();
        dataplane->with_worker_tx(kLinkTxIndex, [&](DataplaneLink::TxProducer& tx) {
            sent = tx.send(ep, v.frame, len, counters);
        });
        if (sent) {
            counters.inc(Counter::fleet_link_delivered);
            de.stats->tx_frames.fetch_add(1, std::memory_order_relaxed);
            de.stats->tx_bytes.fetch_add(len, std::memory_order_relaxed);
            return;
        }
        // No dataplane attached or its ring is full (counted): try TCP.
    }
    ConnectionPtr conn = de.rt.conn.load();
    if (!conn) {
        counters.inc(Counter::fleet_link_rx_dst_offline);
        return;
    }
    switch (sender->bytes_to_conn(conn, v.frame, len)) {
        case FrameSender::Queued::Ok:
            counters.inc(Counter::fleet_link_delivered);
            de.stats->tx_frames.fetch_add(1, std::memory_order_relaxed);
            de.stats->tx_bytes.fetch_add(len, std::memory_order_relaxed);
            break;
        case FrameSender::Queued::Full:
            counters.inc(Counter::fleet_link_rx_outq_full);
            de.stats->drops.fetch_add(1, std::memory_order_relaxed);
            break;
        case FrameSender::Queued::Closed: counters.inc(Counter::fleet_link_rx_dst_offline); break;
    }
}

}  // namespace rustun::cp
