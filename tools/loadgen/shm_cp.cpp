// Stand-in control plane on the shared-memory channel (shm_cp.hpp, docs/shm-channel.md).
#include "shm_cp.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>

#include "proto/constants.hpp"
#include "config/address.hpp"
#include "fleet/link_auth.hpp"
#include "shm/control_push.hpp"
#include "shm/state_writer.hpp"
#include "util/clock.hpp"
#include "util/thread_name.hpp"

namespace rustun::loadgen {

ShmControlPlane::~ShmControlPlane() { stop(); }

// The control ring is the dataplane's to drain (its main lcore polls every ~100 µs): wait for a
// free slot, bounded at 30 s, keeping the heartbeat fresh meanwhile.
bool ShmControlPlane::push(shm::MsgType t, const void* body, uint32_t len) {
    const shm::PushWait wait{std::chrono::seconds(30), std::chrono::microseconds(200), true, nullptr};
    return shm::push_control(*ch_, wait, t, body, len);
}

shm::EndpointState ShmControlPlane::binding(const Scenario& sc, uint32_t i) {
    return shm::EndpointState{i + 1, sc.endpoint(i), false, std::nullopt};
}

void ShmControlPlane::bind_all(const Scenario& sc) {
    shm::StateWriter w([this](shm::MsgType t, const void* body, uint32_t len) { return push(t, body, len); });
    for (uint32_t i = 0; i < sc.clients(); ++i) w.endpoint_set(binding(sc, i));
}

std::string ShmControlPlane::start(const std::string& channel, const Scenario& sc, uint32_t wait_ms, LinkMode link) {
    never_live_ = link == LinkMode::Out;
    const uint64_t deadline = mono_ns() + uint64_t{wait_ms} * 1'000'000ull;
    std::string last;
    while (!ch_) {
        auto r = shm::Channel::attach(channel);
        if (r) {
            ch_ = std::move(*r);
            break;
        }
        last = r.error();
        if (mono_ns() > deadline) return "cannot attach " + channel + ": " + last;
        usleep(50'000);
    }
    auto& h = ch_->header();
    const uint64_t epoch = (mono_ns() & 0xffffffffffffull) | 1;
    h.cp_pid.store(static_cast<uint32_t>(getpid()));
    h.cp_epoch.store(epoch);
    h.cp_heartbeat_ns.store(mono_ns());
    shm::FullState st;
    st.cp_epoch = epoch;
    for (uint32_t c = 0; c < sc.clusters(); ++c) {
        const auto& spec = sc.key(c).spec();
        st.clusters.push_back({c + 1, static_cast<uint8_t>(spec.method), spec.derived_key(), cluster_name(c)});
    }
    for (uint32_t i = 0; i < sc.clients(); ++i)
        st.clients.push_back({i + 1, sc.client(i).cluster + 1, sc.client(i).private_ip, {}});
    // Inside the sync: the bindings.
    for (uint32_t i = 0; i < sc.clients(); ++i) st.endpoints.push_back(binding(sc, i));
    if (link != LinkMode::None) {
        auto k = fleet::LinkKey::derive(kLinkKey);
        auto peer = parse_socket_address(kLinkPeer);
        if (!k || !peer) return "fleet link: " + (k ? peer.error() : k.error());
        shm::FleetLinkState fl;
        fl.method = static_cast<uint8_t>(k.value().method);
        fl.key = k.value().bytes;
        fl.sender = "gw-lg";
        shm::Endpoint ep{};
        ep.family = 4;
        ep.port = peer.value().port;
        std::memcpy(ep.addr, peer.value().bytes.data(), 4);
        fl.peers.push_back({0, kLinkMember, ep});
        if (link == LinkMode::Out)
            for (uint32_t i = 0; i < sc.clients(); ++i) fl.remote.emplace_back(i + 1, 0);
        st.fleet = std::move(fl);
    }
    shm::StateWriter w([this](shm::MsgType t, const void* body, uint32_t len) { return push(t, body, len); });
    if (!w.full_sync(st)) return "control ring stuck (full sync, after " + std::to_string(w.pushed()) + " messages)";
    while (h.dp_applied_cp_epoch.load(std::memory_order_acquire) != epoch) {
        if (mono_ns() > deadline) return "the dataplane did not apply the sync in time";
        h.cp_heartbeat_ns.store(mono_ns());
        usleep(10'000);
    }
    if (!never_live_) bind_all(sc);  // outside the sync: "authenticated just now" -> live (--link: never)
    while (ch_->control().used() != 0) {  // applied (live) before the first Data packet
        if (mono_ns() > deadline) return "the dataplane did not drain the control ring in time";
        h.cp_heartbeat_ns.store(mono_ns());
        usleep(2'000);
    }
    while (h.sessions.load(std::memory_order_relaxed) < sc.clients()) {
        if (mono_ns() > deadline)
            return "only " + std::to_string(h.sessions.load()) + " of " + std::to_string(sc.clients()) +
                   " endpoints bound (dataplane.sessions too small?)";
        h.cp_heartbeat_ns.store(mono_ns());
        usleep(10'000);
    }
    thr_ = std::thread([this, &sc] { loop(&sc); });
    name_thread(thr_, "lg-shm-cp");
    return "";
}

void ShmControlPlane::loop(const Scenario* sc) {
    auto& h = ch_->header();
    uint64_t next_bind = mono_ns() + kKeepAliveIntervalSeconds * 1'000'000'000ull;
    while (!stop_.load(std::memory_order_relaxed)) {
        h.cp_heartbeat_ns.store(mono_ns(), std::memory_order_relaxed);
        for (uint32_t ring = 0; ring < 2 * ch_->workers(); ++ring) {
            auto& r = ring % 2 == 0 ? ch_->dp_to_cp(ring / 2) : ch_->deliver(ring / 2);
            uint32_t n = 0;
            while (const uint8_t* s = r.peek()) {
                const auto t = shm::msg_header(s).type;
                if (t == static_cast<uint16_t>(shm::MsgType::Punt)) punts_.fetch_add(1, std::memory_order_relaxed);
                if (t == static_cast<uint16_t>(shm::MsgType::TcpDeliver)) tcp_.fetch_add(1, std::memory_order_relaxed);
                r.consume();
                ++n;
            }
            if (n) r.release();
        }
        if (!never_live_ && mono_ns() >= next_bind) {  // the KeepAlive period
            bind_all(*sc);
            next_bind = mono_ns() + kKeepAliveIntervalSeconds * 1'000'000'000ull;
        }
        usleep(100'000);
    }
}

void ShmControlPlane::stop() {
    stop_.store(true);
    if (thr_.joinable()) thr_.join();
}

}  // namespace rustun::loadgen
