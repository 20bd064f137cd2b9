#include "shm/state_writer.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace rustun::shm {

uint32_t make_cluster_set(ClusterSetMsg& m, uint32_t cluster_id, uint8_t method, const uint8_t* key, size_t key_len,
                          std::string_view name) {
    std::memset(&m, 0, sizeof m);
    m.cluster_id = cluster_id;
    m.method = method;
    m.key_len = static_cast<uint16_t>(std::min<size_t>(key_len, ClusterSetMsg::kMaxKey));
    // memcpy from a null pointer is undefined even for 0 bytes (a plain cluster has no key).
    if (m.key_len != 0 && key != nullptr) std::memcpy(m.key, key, m.key_len);
    m.name_len = static_cast<uint8_t>(std::min<size_t>(name.size(), ClusterSetMsg::kMaxName));
    if (m.name_len == 0) return static_cast<uint32_t>(offsetof(ClusterSetMsg, key) + m.key_len);
    std::memcpy(m.name, name.data(), m.name_len);
    return static_cast<uint32_t>(offsetof(ClusterSetMsg, name) + m.name_len);
}

EndpointSetMsg make_endpoint_set(const EndpointState& e) {
    EndpointSetMsg m{};
    m.client_id = e.client_id;
    m.endpoint = e.endpoint;
    if (e.live) m.flags |= kEndpointLive;
    if (e.replay_floor) {
        m.flags |= kEndpointReplay;
        m.replay_floor_hi = static_cast<uint32_t>(*e.replay_floor >> 32);
    }
    return m;
}

uint32_t make_client_set(ClientSetMsg& m, uint32_t id, uint32_t cluster_id, uint32_t private_ip,
                         std::span<const Cidr> cidrs, size_t part) {
    const size_t done = part * ClientSetMsg::kMaxCidrs;
    const size_t n = done < cidrs.size() ? std::min<size_t>(cidrs.size() - done, ClientSetMsg::kMaxCidrs) : 0;
    std::memset(&m, 0, offsetof(ClientSetMsg, cidrs) + n * sizeof(Cidr));
    m.client_id = id;
    m.cluster_id = cluster_id;
    m.private_ip = private_ip;
    m.flags = part == 0 ? 0 : kClientSetAppendCidrs;
    m.cidr_count = static_cast<uint16_t>(n);
    for (size_t k = 0; k < n; ++k) {
        m.cidrs[k].network = cidrs[done + k].network;
        m.cidrs[k].prefix_len = cidrs[done + k].prefix_len;
    }
    return static_cast<uint32_t>(offsetof(ClientSetMsg, cidrs) + n * sizeof(Cidr));
}

bool StateWriter::push(MsgType type, const void* body, uint32_t len) {
    if (failed_) return false;
    if (!push_(type, body, len)) {
        failed_ = true;
        return false;
    }
    ++pushed_;
    return true;
}

bool StateWriter::sync_begin(uint64_t cp_epoch, uint32_t clusters, uint32_t clients) {
    const SyncMsg m{cp_epoch, clusters, clients};
    return push(MsgType::SyncBegin, &m, sizeof m);
}

bool StateWriter::sync_end(uint64_t cp_epoch, uint32_t clusters, uint32_t clients) {
    const SyncMsg m{cp_epoch, clusters, clients};
    return push(MsgType::SyncEnd, &m, sizeof m);
}

bool StateWriter::cluster_set(uint32_t id, uint8_t method, std::span<const uint8_t> key, std::string_view name) {
    ClusterSetMsg m;
    const uint32_t len = make_cluster_set(m, id, method, key.data(), key.size(), name);
    return push(MsgType::ClusterSet, &m, len);
}

bool StateWriter::fleet_link_set(uint8_t method, std::span<const uint8_t, 32> key, std::string_view sender) {
    FleetLinkMsg m{};
    m.method = method;
    if (method != 0) {
        std::memcpy(m.key, key.data(), sizeof m.key);
        m.sender_len = static_cast<uint8_t>(std::min<size_t>(sender.size(), sizeof m.sender));
        std::memcpy(m.sender, sender.data(), m.sender_len);
    }
    const bool ok = push(MsgType::FleetLinkSet, &m, static_cast<uint32_t>(offsetof(FleetLinkMsg, sender) + m.sender_len));
    std::memset(&m, 0, sizeof m);  // the key's copy
    return ok;
}

bool StateWriter::link_peer_set(uint16_t peer, std::string_view name, const Endpoint& endpoint) {
    LinkPeerMsg m{};
    m.peer = peer;
    m.name_len = static_cast<uint8_t>(std::min<size_t>(name.size(), sizeof m.name));
    std::memcpy(m.name, name.data(), m.name_len);
    if (m.name_len) m.endpoint = endpoint;
    return push(MsgType::LinkPeerSet, &m, static_cast<uint32_t>(offsetof(LinkPeerMsg, name) + m.name_len));
}

bool StateWriter::remote_home_set(uint32_t client_id, uint16_t peer) {
    RemoteHomeMsg m{client_id, peer, 0};
    return push(MsgType::RemoteHomeSet, &m, sizeof m);
}

bool StateWriter::client_set(uint32_t id, uint32_t cluster_id, uint32_t private_ip, std::span<const Cidr> cidrs) {
    const size_t parts = client_set_parts(cidrs.size());
    for (size_t part = 0; part < parts; ++part) {
        const uint32_t len = make_client_set(client_msg_, id, cluster_id, private_ip, cidrs, part);
        if (!push(MsgType::ClientSet, &client_msg_, len)) return false;
    }
    return true;
}

bool StateWriter::endpoint_set(const EndpointState& e) {
    const EndpointSetMsg m = make_endpoint_set(e);
    return push(MsgType::EndpointSet, &m, sizeof m);
}

bool StateWriter::client_remove(uint32_t client_id) {
    const ClientIdMsg m{client_id, 0};
    return push(MsgType::ClientRemove, &m, sizeof m);
}

bool StateWriter::endpoint_clear(uint32_t client_id) {
    const ClientIdMsg m{client_id, 0};
    return push(MsgType::EndpointClear, &m, sizeof m);
}

bool StateWriter::commit() { return push(MsgType::Commit, nullptr, 0); }

bool StateWriter::full_sync(const FullState& s) {
    const auto clusters = static_cast<uint32_t>(s.clusters.size());
    const auto clients = static_cast<uint32_t>(s.clients.size());
    if (!sync_begin(s.cp_epoch, clusters, clients)) return false;
    for (const ClusterState& c : s.clusters)
        if (!cluster_set(c.id, c.method, c.key, c.name)) return false;
    for (const ClientState& c : s.clients)
        if (!client_set(c)) return false;
    for (const EndpointState& e : s.endpoints)
        if (!endpoint_set(e)) return false;
    if (s.fleet) {
        if (!fleet_link_set(s.fleet->method, s.fleet->key, s.fleet->sender)) return false;
        for (const FleetLinkState::Peer& p : s.fleet->peers)
            if (!link_peer_set(p.slot, p.name, p.endpoint)) return false;
        for (const auto& [client, slot] : s.fleet->remote)
            if (!remote_home_set(client, slot)) return false;
    }
    return sync_end(s.cp_epoch, clusters, clients);
}

}  // namespace rustun::shm
