#include "frame_sender.hpp"

#include <sys/epoll.h>

#include "util/log.hpp"

namespace rustun::cp {

namespace {

// The fd is open (closed == false).
void set_want_write(Connection& c, bool on) REQUIRES(c.out_mu) {
    if (c.want_write == on) return;
    c.want_write = on;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0u);
    ev.data.u64 = c.id;
    ::epoll_ctl(c.owner->epoll_fd(), EPOLL_CTL_MOD, c.fd, &ev);
}

}  // namespace

void flush_connection(const ConnectionPtr& c) {
    MutexLock lk(c->out_mu);
    c->dirty = false;
    if (c->closed) return;
    size_t written = 0;
    auto r = c->out.flush(c->fd, written);
    if (r == OutQueue::FlushResult::Error) {
        set_want_write(*c, false);
        ask_owner_to_close(c, CloseReason::WriteError);
        return;
    }
    if (r == OutQueue::FlushResult::Drained || c->out.bytes() < c->out.limit() / 2) c->over_limit_since = SteadyTime{};
    set_want_write(*c, r == OutQueue::FlushResult::WouldBlock);
}

FrameSender::FrameSender(CryptoEngine& engine, CounterBlock& counters)
    : engine_(engine), counters_(counters), frame_buf_(kMaxFrameSize) {
    dirty_.reserve(1024);
}

std::span<const uint8_t> FrameSender::seal(FrameType type, std::string_view pt, const CipherKey& key) {
    uint32_t out_len = 0;
    CryptoStatus st = engine_.seal(key, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(pt.data()), pt.size()),
                                   std::span<uint8_t>(frame_buf_.data() + kFrameHeaderSize, kMaxPayloadSize), out_len);
    if (st != CryptoStatus::Ok || !encode_header(type, out_len, std::span<uint8_t>(frame_buf_.data(), kFrameHeaderSize))) {
        counters_.inc(Counter::payload_too_large);
        LOG_LIMITED(LogLevel::Error, "not sending a %s of %zu bytes: %s", std::string(frame_type_name(type)).c_str(),
                    pt.size(), crypto_status_name(st));
        return {};
    }
    return {frame_buf_.data(), kFrameHeaderSize + out_len};
}

FrameSender::Queued FrameSender::bytes_to_conn(const ConnectionPtr& c, const uint8_t* frame, size_t len) {
    MutexLock lk(c->out_mu);
    if (c->closed) return Queued::Closed;
    if (!c->out.push(frame, len)) {
        if (c->over_limit_since == SteadyTime{}) c->over_limit_since = std::chrono::steady_clock::now();
        return Queued::Full;
    }
    if (!c->dirty) {
        c->dirty = true;
        dirty_.push_back(c);
    }
    return Queued::Ok;
}

bool FrameSender::to_conn(const ConnectionPtr& c, FrameType type, std::string_view pt, const CipherKey& key,
                          ClientStats* stats) {
    auto f = seal(type, pt, key);
    if (f.empty()) return false;
    Queued q = bytes_to_conn(c, f.data(), f.size());
    if (q == Queued::Full) {
        counters_.inc(Counter::control_outq_full);
        if (stats) stats->drops.fetch_add(1, std::memory_order_relaxed);
    }
    if (q != Queued::Ok) return false;
    if (stats) {
        stats->tx_frames.fetch_add(1, std::memory_order_relaxed);
        stats->tx_bytes.fetch_add(f.size(), std::memory_order_relaxed);
    }
    return true;
}

void FrameSender::flush() {
    for (size_t i = 0; i < dirty_.size(); ++i) flush_connection(dirty_[i]);
    dirty_.clear();
}

const std::string& FrameSender::reply_body(const Membership& m, ClientId self, FrameType type, const KeepAlive* req,
                                           uint32_t max_peers, size_t overhead, size_t max_payload) {
    const ClientEntry& e = m.clients[self];
    bool capped = false;
    const std::shared_ptr<const FleetSnapshot> fleet = fleet_ && fleet_->version() ? fleet_->snapshot() : nullptr;
    m.peers_of(self, max_peers, peers_, capped, fleet.get());
    for (;;) {
        json_.clear();
        if (type == FrameType::HandshakeReply) {
            HandshakeReply r;
            r.name = e.cfg.name;
            r.private_ip = e.cfg.private_ip.to_string();
            r.mask = e.cfg.mask.to_string();
            r.gateway = e.cfg.gateway.to_string();
            for (const auto& cidr : e.cfg.ciders) r.ciders.push_back(cidr.to_string());
            for (const auto& mp : e.cfg.cider_mapping)
                r.cider_mapping.emplace_back(mp.virtual_cidr.to_string(), mp.real_cidr.to_string());
            r.peers = peers_;
            r.ipv6 = e.rt.handshake_ipv6;
            encode_handshake_reply(r, ReplyShape::Superset, json_);
        } else {
            // docs/protocol.md, "KeepAlive replies": a HEAD-shaped reply to every KeepAlive, with the sender's own identity.
            KeepAlive r;
            r.name = e.cfg.name;
            r.identity = e.cfg.identity;
            r.ipv6 = req->ipv6;
            r.port = req->port;
            r.stun_ip = req->stun_ip;
            r.stun_port = req->stun_port;
            r.peer_details = peers_;
            r.seq = req->seq;  // our UDP extension; absent on reference KeepAlives
            encode_keepalive(r, Shape::New, json_);
        }
        if (json_.size() + overhead <= max_payload || peers_.empty()) break;
        // Too large for one frame (docs/protocol.md, "Frame size limits") or datagram: cut the list and try again.
        peers_.resize(peers_.size() * 3 / 4);
        capped = true;
    }
    if (capped) {
        counters_.inc(Counter::peer_list_capped);
        LOG_LIMITED(LogLevel::Warn, "peer list for '%s' cut to %zu entries (max_peers_per_reply %u, %zu-byte payload limit)",
                    e.cfg.identity.c_str(), peers_.size(), max_peers, max_payload);
    }
    return json_;
}

void FrameSender::peer_update(const Membership& m, ClientId self) {
    const ClientEntry& e = m.clients[self];
    // dbde974 push model (docs/protocol.md, "Peer-address propagation").
    json2_.clear();
    encode_peer_update(PeerUpdate{e.cfg.identity, e.rt.ipv6, e.rt.port}, json2_);
    m.for_each_old_dialect_peer(self, [&](ClientId id) {
        const ClientEntry& peer = m.clients[id];
        if (to_conn(peer.rt.conn, FrameType::PeerUpdate, json2_, *peer.rt.conn->key, peer.stats.get()))
            counters_.inc(Counter::peer_update_tx);
    });
}

void FrameSender::peer_update_remote(const Membership& m, ClusterId cluster, const PeerUpdate& pu) {
    json2_.clear();
    encode_peer_update(pu, json2_);
    const ClusterEntry& cl = m.clusters[cluster];
    for (ClientId id = cl.first; id < cl.first + cl.count; ++id) {
        const ClientEntry& peer = m.clients[id];
        if (!peer.rt.conn || peer.rt.dialect != Dialect::Old || peer.cfg.identity == pu.identity) continue;
        if (to_conn(peer.rt.conn, FrameType::PeerUpdate, json2_, *peer.rt.conn->key, peer.stats.get()))
            counters_.inc(Counter::peer_update_tx);
    }
}

}  // namespace rustun::cp
