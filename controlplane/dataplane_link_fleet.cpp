// DataplaneLink: telling the dataplane about the fleet's UDP link (docs/fleet.md, "UDP link
// through the dataplane"): the fleet key and our gateway id, a slot per member whose dataplane
// takes link frames (its record says udp_link), and for each client online on such a member,
// that member's slot. Recomputed from the fleet view whenever the registry publishes a new one
// (or a reload changes the membership); only the differences are pushed.
#include <algorithm>
#include <chrono>
#include <cstring>

#include "dataplane_link.hpp"
#include "fleet_view.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"

namespace rustun::cp {

namespace {

// A member that left the view keeps its slot this long, so that its frames are still accepted
// while it is cut off from etcd (as the TCP link accepts former members: fleet_link_rx.cpp).
constexpr uint64_t kFormerMemberSeconds = 600;

bool to_endpoint(std::string_view text, shm::Endpoint& out) {
    auto a = parse_socket_address(text);
    if (!a || a.value().port == 0) return false;
    out = shm::Endpoint{};
    out.family = a.value().family == AddressFamily::V4 ? 4 : 6;
    out.port = a.value().port;
    std::memcpy(out.addr, a.value().bytes.data(), out.family == 4 ? 4 : 16);
    return true;
}

}  // namespace

Status DataplaneLink::set_fleet_udp(std::string gateway_id, std::string_view key_spec) {
    auto k = fleet::LinkKey::derive(key_spec);
    if (!k) return make_error("fleet.link.key: " + k.error());
    fleet_udp_.on = true;
    fleet_udp_.gateway_id = std::move(gateway_id);
    fleet_udp_.method = static_cast<uint8_t>(k.value().method);
    fleet_udp_.key = k.value().bytes;
    return {};
}

void DataplaneLink::fleet_desired(const Membership& m, std::unordered_map<uint32_t, uint16_t>& remote) {
    const std::shared_ptr<const FleetSnapshot> view = state_.fleet_view().snapshot();
    const uint64_t now = realtime_s();
    // Slots: members with a UDP link keep theirs; new ones take a free one; gone ones keep it a while.
    std::array<bool, shm::kMaxLinkPeers> seen{};
    for (const FleetGateway& g : view->gateways()) {
        shm::Endpoint ep;
        if (g.self || !g.udp_link || !to_endpoint(g.udp_listen, ep)) continue;
        int slot = -1, free_slot = -1;
        for (uint32_t i = 0; i < shm::kMaxLinkPeers; ++i) {
            if (slots_[i].name == g.id) slot = static_cast<int>(i);
            else if (slots_[i].name.empty() && free_slot < 0) free_slot = static_cast<int>(i);
        }
        if (slot < 0) slot = free_slot;
        if (slot < 0) {
            LOG_LIMITED(LogLevel::Warn, "fleet: more than %u members with a UDP link: '%s' is reached over the TCP link",
                        shm::kMaxLinkPeers, g.id.c_str());
            continue;
        }
        Slot& s = slots_[slot];
        if (s.name != g.id || std::memcmp(&s.ep, &ep, sizeof ep) != 0) s.dirty = true;
        s.name = g.id;
        s.ep = ep;
        s.gone_since = 0;
        seen[slot] = true;
    }
    for (uint32_t i = 0; i < shm::kMaxLinkPeers; ++i) {
        Slot& s = slots_[i];
        if (seen[i] || s.name.empty()) continue;
        if (s.gone_since == 0) s.gone_since = now;
        if (now - s.gone_since >= kFormerMemberSeconds) {
            s = Slot{};
            s.dirty = true;
        }
    }
    remote.clear();
    view->for_each_client([&](const RemoteClient& rc) {
        const ClientId id = m.find(rc.identity);
        if (id == kNoClient || m.clusters[m.clients[id].cluster].name != rc.cluster) return true;
        for (uint32_t i = 0; i < shm::kMaxLinkPeers; ++i)
            if (seen[i] && slots_[i].name == rc.home) {
                remote.emplace(m.dp.client[id], static_cast<uint16_t>(i));
                break;
            }
        return true;
    });
}

bool DataplaneLink::push_fleet_sync(shm::StateWriter& w, const Membership& m) {
    if (!fleet_udp_.on) return true;
    fleet_view_pushed_ = state_.fleet_view().version();
    fleet_generation_pushed_ = m.generation;
    std::unordered_map<uint32_t, uint16_t> remote;
    fleet_desired(m, remote);
    if (!w.fleet_link_set(fleet_udp_.method, fleet_udp_.key, fleet_udp_.gateway_id)) return false;
    for (uint32_t i = 0; i < shm::kMaxLinkPeers; ++i) {
        slots_[i].dirty = false;
        if (!slots_[i].name.empty() && !w.link_peer_set(static_cast<uint16_t>(i), slots_[i].name, slots_[i].ep))
            return false;
    }
    for (const auto& [dp_id, slot] : remote)
        if (!w.remote_home_set(dp_id, slot)) return false;
    remote_pushed_ = std::move(remote);
    publish_slotted();
    return true;
}

void DataplaneLink::publish_slotted() {
    auto names = std::make_shared<std::vector<std::string>>();
    for (const Slot& s : slots_)
        if (!s.name.empty()) names->push_back(s.name);
    std::sort(names->begin(), names->end());
    slotted_.store(std::move(names), std::memory_order_release);
}

bool DataplaneLink::push_fleet_changes() {
    if (!fleet_udp_.on || !pushed_members_) return true;
    const uint64_t version = state_.fleet_view().version();
    if (version == fleet_view_pushed_ && pushed_members_->generation == fleet_generation_pushed_) return true;
    fleet_view_pushed_ = version;
    fleet_generation_pushed_ = pushed_members_->generation;
    std::unordered_map<uint32_t, uint16_t> remote;
    fleet_desired(*pushed_members_, remote);
    shm::StateWriter w([this](shm::MsgType t, const void* body, uint32_t len) { return push_control(t, body, len); });
    // Clients first leave slots that change, then the slots change (at Commit), then clients
    // move in: no frame is ever sealed for a slot's previous member.
    for (auto it = remote_pushed_.begin(); it != remote_pushed_.end();) {
        auto d = remote.find(it->first);
        if (d == remote.end() || d->second != it->second || slots_[it->second].dirty) {
            if (!w.remote_home_set(it->first, shm::kNoLinkPeer)) return false;
            it = remote_pushed_.erase(it);
        } else {
            ++it;
        }
    }
    bool peers_changed = false;
    for (uint32_t i = 0; i < shm::kMaxLinkPeers; ++i) {
        if (!slots_[i].dirty) continue;
        if (!w.link_peer_set(static_cast<uint16_t>(i), slots_[i].name, slots_[i].ep)) return false;
        slots_[i].dirty = false;
        peers_changed = true;
    }
    if (peers_changed && !w.commit()) return false;
    if (peers_changed) publish_slotted();
    for (const auto& [dp_id, slot] : remote) {
        if (remote_pushed_.count(dp_id)) continue;
        if (!w.remote_home_set(dp_id, slot)) return false;
        remote_pushed_.emplace(dp_id, slot);
    }
    if (w.pushed()) counters_.inc(Counter::dataplane_fleet_updates, w.pushed());
    return true;
}

}  // namespace rustun::cp
