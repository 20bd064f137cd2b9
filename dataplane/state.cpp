#include "state.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

namespace rustun::dp {

namespace {

template <typename T>
bool body_at_least(const shm::MsgHeader& h, uint32_t n = sizeof(T)) {
    return h.len >= n && h.len <= shm::kMaxBody;
}

bool valid_endpoint(const shm::Endpoint& e) {
    return (e.family == 4 || e.family == 6) && e.port != 0;
}

}  // namespace

StateManager::StateManager(uint32_t session_capacity, uint32_t workers,
                           std::function<uint64_t(const EndpointKey&)> mac_hint)
    : capacity_(session_capacity),
      workers_(workers),
      mac_hint_(std::move(mac_hint)),
      seen_(std::make_unique<QuiescentId[]>(workers)) {
    publish(build(model_));  // an empty generation: every lookup misses
}

StateManager::~StateManager() = default;

StateManager::Outcome StateManager::reject(std::string why) {
    error_ = std::move(why);
    return Outcome::Rejected;
}

std::shared_ptr<const CipherKey> StateManager::find_cipher(uint8_t method, const std::vector<uint8_t>& key) {
    cipher_id_.assign(1, static_cast<char>(method));
    cipher_id_.append(key.begin(), key.end());
    auto it = ciphers_.find(cipher_id_);
    return it == ciphers_.end() ? nullptr : it->second.lock();
}

StateManager::Outcome StateManager::apply(const shm::MsgHeader& h, const uint8_t* body, uint64_t now_tsc) {
    using shm::MsgType;
    now_tsc_ = now_tsc;
    switch (static_cast<MsgType>(h.type)) {
        case MsgType::SyncBegin: {
            if (!body_at_least<shm::SyncMsg>(h)) return reject("SyncBegin: short body");
            shm::SyncMsg m;
            std::memcpy(&m, body, sizeof m);
            staging_ = std::make_unique<Model>();  // a repeated SyncBegin restarts the sync
            staging_->cp_epoch = m.cp_epoch;
            return Outcome::Applied;
        }
        case MsgType::SyncEnd: {
            if (!body_at_least<shm::SyncMsg>(h)) return reject("SyncEnd: short body");
            shm::SyncMsg m;
            std::memcpy(&m, body, sizeof m);
            if (!staging_) return reject("SyncEnd without SyncBegin");
            if (m.cp_epoch != staging_->cp_epoch)
                return reject("SyncEnd for cp_epoch " + std::to_string(m.cp_epoch) + ", sync began with " +
                              std::to_string(staging_->cp_epoch));
            carry_bindings(*staging_);
            std::erase_if(ciphers_, [](const auto& kv) { return kv.second.expired(); });
            auto g = build(*staging_);
            model_ = std::move(*staging_);
            staging_.reset();
            dirty_ = false;
            publish(std::move(g));
            applied_epoch_ = m.cp_epoch;
            return Outcome::SyncApplied;
        }
        case MsgType::Commit: {
            if (staging_) return Outcome::Ignored;  // the sync's SyncEnd builds everything
            if (!dirty_) return Outcome::Ignored;
            publish(build(model_));
            dirty_ = false;
            return Outcome::Flipped;
        }
        default:
            break;
    }
    if (staging_) return apply_to(*staging_, false, h, body, now_tsc);
    return apply_to(model_, true, h, body, now_tsc);
}

StateManager::Outcome StateManager::apply_to(Model& m, bool live, const shm::MsgHeader& h,
                                             const uint8_t* body, uint64_t now_tsc) {
    using shm::MsgType;
    switch (static_cast<MsgType>(h.type)) {
        case MsgType::ClusterSet: {
            if (!body_at_least<shm::ClusterSetMsg>(h, 8)) return reject("ClusterSet: short body");
            uint32_t id;
            uint8_t method;
            uint16_t key_len;
            std::memcpy(&id, body, 4);
            method = body[4];
            std::memcpy(&key_len, body + 6, 2);
            if (key_len > shm::ClusterSetMsg::kMaxKey || h.len < 8u + key_len)
                return reject("ClusterSet: key_len " + std::to_string(key_len) + " beyond the body");
            if (method > static_cast<uint8_t>(CipherMethod::Aes256Gcm))
                return reject("ClusterSet: unknown cipher method " + std::to_string(method));
            const uint8_t name_len = body[5];
            if (name_len != 0 && h.len < offsetof(shm::ClusterSetMsg, name) + name_len)
                return reject("ClusterSet: name_len " + std::to_string(name_len) + " beyond the body");
            ClusterModel c;
            c.method = method;
            c.key.assign(body + 8, body + 8 + key_len);
            if (name_len) c.name.assign(reinterpret_cast<const char*>(body) + offsetof(shm::ClusterSetMsg, name), name_len);
            c.cipher = find_cipher(method, c.key);
            if (!c.cipher) {
                CipherSpec spec;
                spec.method = static_cast<CipherMethod>(method);
                spec.key.assign(c.key.begin(), c.key.end());
                if (spec.method == CipherMethod::Xor && spec.key.empty())
                    return reject("ClusterSet: empty XOR key");
                auto k = CipherKey::create(spec);
                if (!k) return reject("ClusterSet: " + k.error());
                c.cipher = std::shared_ptr<const CipherKey>(std::move(*k));
                ciphers_[cipher_id_] = c.cipher;  // cipher_id_: set by find_cipher above
            }
            m.clusters[id] = std::move(c);
            // Cluster changes take effect at the next SyncEnd/Commit.
            if (live) dirty_ = true;
            return Outcome::Applied;
        }
        case MsgType::ClientSet: {
            if (!body_at_least<shm::ClientSetMsg>(h, 16)) return reject("ClientSet: short body");
            shm::ClientSetMsg msg;
            std::memcpy(&msg, body, 16);
            if (msg.cidr_count > shm::ClientSetMsg::kMaxCidrs || h.len < 16u + 8u * msg.cidr_count)
                return reject("ClientSet: cidr_count " + std::to_string(msg.cidr_count) + " beyond the body");
            if (msg.flags & ~shm::kClientSetAppendCidrs)
                return reject("ClientSet: unknown flags " + std::to_string(msg.flags));
            std::vector<Ipv4Cidr> cidrs;
            cidrs.reserve(msg.cidr_count);
            for (uint32_t i = 0; i < msg.cidr_count; ++i) {
                shm::Cidr cd;
                std::memcpy(&cd, body + 16 + 8 * i, sizeof cd);
                if (cd.prefix_len > 32) return reject("ClientSet: prefix_len > 32");
                cidrs.push_back(Ipv4Cidr{Ipv4Addr{cd.network}, cd.prefix_len});
            }
            if (msg.flags & shm::kClientSetAppendCidrs) {
                // The continuation of the ClientSet just before it: the same client, as it was set.
                auto prev = m.clients.find(msg.client_id);
                if (prev == m.clients.end() || prev->second.cluster_id != msg.cluster_id ||
                    prev->second.private_ip != msg.private_ip)
                    return reject("ClientSet: CIDRs appended to client " + std::to_string(msg.client_id) +
                                  " without its ClientSet");
                prev->second.cidrs.insert(prev->second.cidrs.end(), cidrs.begin(), cidrs.end());
            } else {
                ClientModel c;
                c.cluster_id = msg.cluster_id;
                c.private_ip = msg.private_ip;
                c.cidrs = std::move(cidrs);
                m.clients[msg.client_id] = std::move(c);
            }
            if (live) dirty_ = true;
            return Outcome::Applied;
        }
        case MsgType::ClientRemove: {
            if (!body_at_least<shm::ClientIdMsg>(h)) return reject("ClientRemove: short body");
            uint32_t id;
            std::memcpy(&id, body, 4);
            if (live) clear_in_place(id);
            m.endpoints.erase(id);
            m.replay_floor.erase(id);
            if (m.clients.erase(id) == 0) return Outcome::Ignored;
            if (live) dirty_ = true;
            return Outcome::Applied;
        }
        case MsgType::EndpointSet: {
            if (!body_at_least<shm::EndpointSetMsg>(h)) return reject("EndpointSet: short body");
            shm::EndpointSetMsg msg;
            std::memcpy(&msg, body, sizeof msg);
            if (!valid_endpoint(msg.endpoint)) return reject("EndpointSet: bad endpoint family or port 0");
            msg.endpoint = EndpointKey::from(msg.endpoint).to_endpoint();
            // Opted into Data replay protection: counters below the floor are replays (a floor
            // of 0 still opts in: 1 is the lowest counter then).
            const uint64_t floor = (msg.flags & shm::kEndpointReplay)
                                       ? std::max<uint64_t>(1, uint64_t{msg.replay_floor_hi} << 32)
                                       : 0;
            if (!live) {
                // Within a sync: a later binding of the same endpoint wins (build() resolves it).
                m.endpoints[msg.client_id] = msg.endpoint;
                if (floor) m.replay_floor[msg.client_id] = floor;
                else m.replay_floor.erase(msg.client_id);
                if (msg.flags & shm::kEndpointLive) m.live[msg.client_id] = true;
                else m.live.erase(msg.client_id);
                return Outcome::Applied;
            }
            return bind_in_place(msg.client_id, msg.endpoint, floor, now_tsc);
        }
        case MsgType::EndpointClear: {
            if (!body_at_least<shm::ClientIdMsg>(h)) return reject("EndpointClear: short body");
            uint32_t id;
            std::memcpy(&id, body, 4);
            if (live) clear_in_place(id);
            return m.endpoints.erase(id) ? Outcome::Applied : Outcome::Ignored;
        }
        case MsgType::FleetLinkSet:
        case MsgType::LinkPeerSet:
        case MsgType::RemoteHomeSet:
            return apply_link(m, live, h, body);
        default:
            return reject("unexpected message type " + std::to_string(h.type) + " on the control ring");
    }
}

StateManager::Outcome StateManager::apply_link(Model& m, bool live, const shm::MsgHeader& h, const uint8_t* body) {
    using shm::MsgType;
    switch (static_cast<MsgType>(h.type)) {
        case MsgType::FleetLinkSet: {
            if (!body_at_least<shm::FleetLinkMsg>(h, offsetof(shm::FleetLinkMsg, sender)))
                return reject("FleetLinkSet: short body");
            shm::FleetLinkMsg msg{};
            std::memcpy(&msg, body, std::min<uint32_t>(h.len, sizeof msg));
            if (msg.method == 0) {
                m.link.key.reset();
                m.link.sender.clear();
            } else {
                if (msg.sender_len == 0 || h.len < offsetof(shm::FleetLinkMsg, sender) + msg.sender_len)
                    return reject("FleetLinkSet: sender_len " + std::to_string(msg.sender_len) + " empty or beyond the body");
                auto k = fleet::LinkKey::from_bytes(static_cast<CipherMethod>(msg.method),
                                                    std::span<const uint8_t, 32>(msg.key, 32));
                std::memset(msg.key, 0, sizeof msg.key);
                if (!k) return reject("FleetLinkSet: " + k.error());
                m.link.key = std::move(k).value();
                m.link.sender.assign(msg.sender, msg.sender_len);
            }
            if (live) dirty_ = true;  // at the next Commit
            return Outcome::Applied;
        }
        case MsgType::LinkPeerSet: {
            if (!body_at_least<shm::LinkPeerMsg>(h, offsetof(shm::LinkPeerMsg, name))) return reject("LinkPeerSet: short body");
            shm::LinkPeerMsg msg{};
            std::memcpy(&msg, body, std::min<uint32_t>(h.len, sizeof msg));
            if (msg.peer >= shm::kMaxLinkPeers)
                return reject("LinkPeerSet: peer slot " + std::to_string(msg.peer) + " beyond " +
                              std::to_string(shm::kMaxLinkPeers));
            if (h.len < offsetof(shm::LinkPeerMsg, name) + msg.name_len) return reject("LinkPeerSet: name beyond the body");
            if (msg.name_len != 0 && !valid_endpoint(msg.endpoint))
                return reject("LinkPeerSet: bad endpoint family or port 0");
            m.link.peer_name[msg.peer].assign(msg.name, msg.name_len);
            m.link.peer_ep[msg.peer] = msg.name_len ? EndpointKey::from(msg.endpoint).to_endpoint() : shm::Endpoint{};
            if (live) dirty_ = true;
            return Outcome::Applied;
        }
        case MsgType::RemoteHomeSet: {
            if (!body_at_least<shm::RemoteHomeMsg>(h)) return reject("RemoteHomeSet: short body");
            shm::RemoteHomeMsg msg;
            std::memcpy(&msg, body, sizeof msg);
            if (msg.peer >= shm::kMaxLinkPeers && msg.peer != shm::kNoLinkPeer)
                return reject("RemoteHomeSet: peer slot " + std::to_string(msg.peer) + " out of range");
            if (msg.peer == shm::kNoLinkPeer) m.remote.erase(msg.client_id);
            else m.remote[msg.client_id] = msg.peer;
            if (live) {
                // In place: the workers see it with their next packet for that client.
                const Generation* g = owned_cur_.get();
                auto d = g->by_cp_id.find(msg.client_id);
                if (d != g->by_cp_id.end()) g->remote_peer[d->second].store(msg.peer, std::memory_order_relaxed);
            }
            return Outcome::Applied;
        }
        default:
            return reject("unexpected message type " + std::to_string(h.type) + " on the control ring");
    }
}

StateManager::Outcome StateManager::bind_in_place(uint32_t cp_id, const shm::Endpoint& ep, uint64_t floor,
                                                  uint64_t now_tsc) {
    // Another client bound to the same endpoint loses it (the newest binding wins).
    {
        const Generation* g = owned_cur_.get();
        const uint32_t prev = g->sessions.lookup(EndpointKey::from(ep));
        if (prev != kNoSession && g->clients[prev].cp_id != cp_id) {
            const uint32_t other = g->clients[prev].cp_id;
            clear_in_place(other);
            model_.endpoints.erase(other);
        }
    }
    model_.endpoints[cp_id] = ep;
    if (floor) model_.replay_floor[cp_id] = floor;
    else model_.replay_floor.erase(cp_id);
    Generation* g = owned_cur_.get();
    auto d = g->by_cp_id.find(cp_id);
    if (d == g->by_cp_id.end()) {
        dirty_ = dirty_ || model_.clients.count(cp_id) != 0;  // pending client: bound at Commit
        return Outcome::Applied;
    }
    ClientLive& c = g->clients[d->second];
    const EndpointKey k = EndpointKey::from(ep);
    EndpointKey old;
    if (c.endpoint(old) && !(old == k)) g->sessions.erase(old);
    if (g->sessions.insert(k, d->second) == SessionTable::Insert::Full) {
        c.set_endpoint(EndpointKey{});
        model_.endpoints.erase(cp_id);
        ++session_full_;
        return Outcome::SessionFull;
    }
    c.set_endpoint(k);
    c.replay_floor.store(floor, std::memory_order_relaxed);
    c.last_rx_tsc.store(now_tsc, std::memory_order_relaxed);
    // The packet the control plane just authenticated (a KeepAlive) was punted, so the workers'
    // MAC cache holds its source MAC: the endpoint's newest next hop, even if one was known.
    if (mac_hint_) {
        const uint64_t hint = mac_hint_(k);
        if (hint & kMacKnown) c.mac.store(hint, std::memory_order_relaxed);
    }
    if (g->sessions.needs_rebuild()) publish(build(model_));
    return Outcome::Applied;
}

void StateManager::clear_in_place(uint32_t cp_id) {
    Generation* g = owned_cur_.get();
    auto d = g->by_cp_id.find(cp_id);
    if (d == g->by_cp_id.end()) return;
    ClientLive& c = g->clients[d->second];
    EndpointKey old;
    if (c.endpoint(old)) {
        if (g->sessions.lookup(old) == d->second) g->sessions.erase(old);
        c.set_endpoint(EndpointKey{});
    }
}

void StateManager::carry_bindings(Model& next) const {
    // A restarted control plane does not know the UDP bindings: they live here. Keep the current
    // binding of every client that the new state describes identically (same id, cluster,
    // private IP, CIDRs and cluster cipher) unless the sync binds it itself; the client's next
    // KeepAlive refreshes it. docs/architecture.md, "The dataplane survives a control-plane restart": a control-plane restart must not
    // interrupt established UDP sessions.
    for (const auto& [id, ep] : model_.endpoints) {
        if (next.endpoints.count(id)) continue;
        auto o = model_.clients.find(id);
        auto n = next.clients.find(id);
        if (o == model_.clients.end() || n == next.clients.end()) continue;
        if (o->second.cluster_id != n->second.cluster_id || o->second.private_ip != n->second.private_ip ||
            o->second.cidrs != n->second.cidrs)
            continue;
        auto oc = model_.clusters.find(o->second.cluster_id);
        auto nc = next.clusters.find(n->second.cluster_id);
        if (oc == model_.clusters.end() || nc == next.clusters.end() || oc->second.method != nc->second.method ||
            oc->second.key != nc->second.key)
            continue;
        next.endpoints.emplace(id, ep);
    }
}

std::unique_ptr<Generation> StateManager::build(Model& m) {
    auto g = std::make_unique<Generation>(capacity_);
    g->id = next_id_++;
    g->cp_epoch = m.cp_epoch;
    std::map<uint32_t, std::vector<uint32_t>> per_cluster;
    for (const auto& [id, c] : m.clients)
        if (m.clusters.count(c.cluster_id)) per_cluster[c.cluster_id].push_back(id);
    RouteTableBuilder b;
    RouteTableBuilder any;  // all clusters in one: "is dst anybody's at all?"
    any.add_cluster();
    std::vector<uint32_t> cp_of, cluster_of;
    for (const auto& [cid, cl] : m.clusters) {
        const ClusterId dc = b.add_cluster();
        g->keys.push_back(cl.cipher);
        g->key_lines.push_back(static_cast<uint8_t>((cl.cipher->hot_bytes() + 63) / 64));
        g->cluster_names.push_back(cl.name);
        for (uint32_t id : per_cluster[cid]) {
            const ClientModel& c = m.clients.at(id);
            const ClientId d = b.add_client(Ipv4Addr{c.private_ip}, c.cidrs);
            any.add_client(Ipv4Addr{c.private_ip}, c.cidrs);
            if (cp_of.size() <= d) {
                cp_of.resize(d + 1);
                cluster_of.resize(d + 1);
            }
            cp_of[d] = id;
            cluster_of[d] = dc;
        }
    }
    g->routes = b.build();
    g->any_cluster = any.build();  // overlaps between clusters are expected: conflicts ignored
    g->client_count = static_cast<uint32_t>(cp_of.size());
    g->clients = make_huge_array<ClientLive>(g->client_count);
    const Generation* old = owned_cur_.get();
    for (uint32_t d = 0; d < g->client_count; ++d) {
        ClientLive& c = g->clients[d];
        c.cp_id = cp_of[d];
        c.cluster = cluster_of[d];
        c.key = g->keys[c.cluster].get();
        g->by_cp_id[c.cp_id] = d;
        auto f = m.replay_floor.find(c.cp_id);
        c.replay_floor.store(f == m.replay_floor.end() ? 0 : f->second, std::memory_order_relaxed);
    }
    g->replay = std::make_unique<ReplayWindow[]>(size_t{workers_} * g->client_count);
    build_link(m, *g, old);
    // Endpoints: a binding whose client is gone is dropped from the model.
    for (auto it = m.endpoints.begin(); it != m.endpoints.end();) {
        auto d = g->by_cp_id.find(it->first);
        if (d == g->by_cp_id.end()) {
            if (!m.clients.count(it->first)) {
                it = m.endpoints.erase(it);
                continue;
            }
            ++it;  // client of an unknown cluster: keep the binding for later
            continue;
        }
        const EndpointKey k = EndpointKey::from(it->second);
        ClientLive& c = g->clients[d->second];
        const uint32_t prev = g->sessions.lookup(k);
        const auto r = g->sessions.insert(k, d->second);
        if (r == SessionTable::Insert::Full) {
            ++session_full_;
            it = m.endpoints.erase(it);
            continue;
        }
        if (prev != kNoSession && prev != d->second) g->clients[prev].set_endpoint(EndpointKey{});
        c.set_endpoint(k);
        // Liveness and next-hop MAC survive a new generation (and a control-plane restart):
        // they belong to the endpoint, whoever the old generation said it was.
        if (old) {
            const uint32_t o = old->sessions.lookup(k);
            if (o != kNoSession) {
                c.mac.store(old->clients[o].mac.load(std::memory_order_relaxed), std::memory_order_relaxed);
                c.last_rx_tsc.store(old->clients[o].last_rx_tsc.load(std::memory_order_relaxed),
                                    std::memory_order_relaxed);
                // The replay windows too (a worker may still record a counter in the old
                // generation while this copy is made: that one counter could pass once more).
                for (uint32_t w = 0; w < workers_; ++w) g->window(w, d->second) = old->window(w, o);
            }
        }
        // A sync's binding the control plane vouches for (kEndpointLive): live as of now.
        if (m.live.count(it->first) && now_tsc_ != 0) c.last_rx_tsc.store(now_tsc_, std::memory_order_relaxed);
        if (!(c.mac.load(std::memory_order_relaxed) & kMacKnown) && mac_hint_)
            c.mac.store(mac_hint_(k), std::memory_order_relaxed);
        ++it;
    }
    m.live.clear();  // a claim of the sync that carried it, not state
    return g;
}

void StateManager::build_link(const Model& m, Generation& g, const Generation* old) {
    for (uint32_t c = 0; c < g.cluster_names.size(); ++c)
        if (!g.cluster_names[c].empty()) g.cluster_by_name.emplace_back(g.cluster_names[c], c);
    std::sort(g.cluster_by_name.begin(), g.cluster_by_name.end());
    g.remote_peer = std::make_unique<std::atomic<uint16_t>[]>(g.client_count);
    for (uint32_t d = 0; d < g.client_count; ++d) {
        auto r = m.remote.find(g.clients[d].cp_id);
        g.remote_peer[d].store(r == m.remote.end() ? shm::kNoLinkPeer : r->second, std::memory_order_relaxed);
    }
    if (!m.link.key) return;
    auto link = std::make_unique<LinkState>();
    link->key = m.link.key;
    link->sender = m.link.sender;
    for (uint32_t i = 0; i < shm::kMaxLinkPeers; ++i) {
        LinkPeer& p = link->peers[i];
        p.name = m.link.peer_name[i];
        if (p.name.empty()) continue;
        p.to = m.link.peer_ep[i];
        p.key = EndpointKey::from(p.to);
        // The same member in the same slot keeps its replay windows; anything else starts anew.
        const LinkPeer* before = old && old->link ? &old->link->peers[i] : nullptr;
        p.version = before && before->name == p.name ? before->version : next_peer_version_++;
    }
    g.link = std::move(link);
}

void StateManager::publish(std::unique_ptr<Generation> g) {
    cur_.store(g.get(), std::memory_order_release);
    if (owned_cur_) retired_.push_back(std::move(owned_cur_));
    owned_cur_ = std::move(g);
}

size_t StateManager::reclaim() {
    if (retired_.empty()) return 0;
    uint64_t min_seen = std::numeric_limits<uint64_t>::max();
    for (uint32_t w = 0; w < workers_; ++w) min_seen = std::min(min_seen, seen_[w].id.load(std::memory_order_acquire));
    std::erase_if(retired_, [&](const std::unique_ptr<Generation>& g) { return g->id < min_seen; });
    return retired_.size();
}

}  // namespace rustun::dp
