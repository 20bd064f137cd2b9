// Stand-in control plane on the shared-memory channel (shm_cp.hpp, docs/shm-channel.md).
#include "shm_cp.hpp"

#include <time.h>
#include <unistd.h>

#include <cstring>

namespace rustun::loadgen {

namespace {
uint64_t mono_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}
}  // namespace

ShmControlPlane::~ShmControlPlane() { stop(); }

// The control ring is the dataplane's to drain (its main lcore polls every ~100 µs): wait for a
// free slot, bounded at 30 s, keeping the heartbeat fresh meanwhile.
bool ShmControlPlane::push(shm::MsgType t, const void* body, uint32_t len) {
    auto& r = ch_->control();
    for (int i = 0; i < 150'000; ++i) {
        if (uint8_t* s = r.reserve()) {
            shm::write_msg(s, t, body, len);
            r.commit();
            return true;
        }
        ch_->header().cp_heartbeat_ns.store(mono_ns(), std::memory_order_relaxed);
        usleep(200);
    }
    return false;
}

void ShmControlPlane::bind_all(const Scenario& sc) {
    for (uint32_t i = 0; i < sc.clients(); ++i) {
        shm::EndpointSetMsg e{};
        e.client_id = i + 1;
        e.endpoint = sc.endpoint(i);
        push(shm::MsgType::EndpointSet, &e, sizeof e);
    }
}

std::string ShmControlPlane::start(const std::string& channel, const Scenario& sc, uint32_t wait_ms) {
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
    shm::SyncMsg sm{epoch, sc.clusters(), sc.clients()};
    if (!push(shm::MsgType::SyncBegin, &sm, sizeof sm)) return "control ring stuck (SyncBegin)";
    for (uint32_t c = 0; c < sc.clusters(); ++c) {
        shm::ClusterSetMsg cs{};
        cs.cluster_id = c + 1;
        const auto& spec = sc.key(c).spec();
        cs.method = static_cast<uint8_t>(spec.method);
        const auto dk = spec.derived_key();
        cs.key_len = static_cast<uint16_t>(dk.size());
        if (!dk.empty()) std::memcpy(cs.key, dk.data(), dk.size());
        if (!push(shm::MsgType::ClusterSet, &cs, 8 + cs.key_len)) return "control ring stuck (ClusterSet)";
    }
    for (uint32_t i = 0; i < sc.clients(); ++i) {
        shm::ClientSetMsg m{};
        m.client_id = i + 1;
        m.cluster_id = sc.client(i).cluster + 1;
        m.private_ip = sc.client(i).private_ip;
        if (!push(shm::MsgType::ClientSet, &m, 16)) return "control ring stuck (ClientSet)";
    }
    bind_all(sc);  // inside the sync: bindings
    if (!push(shm::MsgType::SyncEnd, &sm, sizeof sm)) return "control ring stuck (SyncEnd)";
    while (h.dp_applied_cp_epoch.load(std::memory_order_acquire) != epoch) {
        if (mono_ns() > deadline) return "the dataplane did not apply the sync in time";
        h.cp_heartbeat_ns.store(mono_ns());
        usleep(10'000);
    }
    bind_all(sc);  // outside the sync: "authenticated just now" -> live
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
    return "";
}

void ShmControlPlane::loop(const Scenario* sc) {
    auto& h = ch_->header();
    uint64_t next_bind = mono_ns() + 10'000'000'000ull;
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
        if (mono_ns() >= next_bind) {  // the KeepAlive period
            bind_all(*sc);
            next_bind = mono_ns() + 10'000'000'000ull;
        }
        usleep(100'000);
    }
}

void ShmControlPlane::stop() {
    stop_.store(true);
    if (thr_.joinable()) thr_.join();
}

}  // namespace rustun::loadgen
