// Binding mode "shm": rustun-loadgen plays the control plane on the dataplane's shared-memory
// channel (as dataplane/smoke_driver.cpp does): a full sync of the scenario's clusters, clients
// and endpoints, then EndpointSet for every client (= "an authenticated KeepAlive just arrived",
// which makes the endpoint live), a heartbeat every 100 ms, the DpToCp rings drained, and the
// EndpointSets repeated every 10 s like UDP KeepAlives. Same host as the dataplane only.
#pragma once

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "scenario.hpp"
#include "shm/channel.hpp"
#include "shm/dp_runtime.hpp"
#include "shm/state_writer.hpp"

namespace rustun::loadgen {

class ShmControlPlane {
public:
    ~ShmControlPlane();
    // Attaches (retrying for up to `wait_ms`), pushes the full state, marks every endpoint live and
    // waits until the dataplane applied it and holds all bindings. Returns "" or an error.
    // The fleet's UDP link (docs/fleet.md, "UDP link through the dataplane"), with one member in
    // slot 0, kLinkMember, whose dataplane address is kLinkPeer and whose fleet key is kLinkKey.
    // LinkMode::Out: every client is bound but never live and online on that member: the
    // dataplane seals every relayed frame in a link frame to it. LinkMode::In: the clients are
    // bound and live as without a link, and the frames arrive as that member's link frames.
    enum class LinkMode : uint8_t { None, Out, In };
    std::string start(const std::string& channel, const Scenario& sc, uint32_t wait_ms, LinkMode link = LinkMode::None);
    static constexpr const char* kLinkPeer = "192.0.2.254:7100";
    static constexpr const char* kLinkMember = "gw-peer";
    static constexpr const char* kLinkKey = "aes256:loadgen-fleet";
    // The name the full sync gives cluster `c` (the link frames name their cluster so).
    static std::string cluster_name(uint32_t c) {
        char name[16];
        std::snprintf(name, sizeof name, "c%u", c);
        return name;
    }
    void stop();
    uint64_t counter(shm::DpCounter c) { return ch_ ? ch_->counter_total(c) : 0; }
    // The workers' counter blocks summed (the runtime view's input; zeros when detached).
    shm::CounterValues worker_counters() {
        shm::CounterValues v{};
        for (uint32_t w = 0; w < workers(); ++w) {
            const shm::CounterValues one = worker_counters(w);
            for (size_t c = 0; c < shm::kDpCounterCount; ++c) v[c] += one[c];
        }
        return v;
    }
    // Worker `w`'s own counter block (w < workers()).
    shm::CounterValues worker_counters(uint32_t w) {
        shm::CounterValues v{};
        for (size_t c = 0; ch_ && c < shm::kDpCounterCount; ++c) v[c] = ch_->counters(w)[c].load(std::memory_order_relaxed);
        return v;
    }
    uint32_t workers() const { return ch_ ? ch_->workers() : 0; }
    uint64_t punts() const { return punts_.load(); }
    uint64_t tcp_delivers() const { return tcp_.load(); }
    shm::Channel* channel() { return ch_.get(); }

private:
    bool push(shm::MsgType t, const void* body, uint32_t len);
    static shm::EndpointState binding(const Scenario& sc, uint32_t i);
    void bind_all(const Scenario& sc);
    void loop(const Scenario* sc);

    std::unique_ptr<shm::Channel> ch_;
    std::thread thr_;
    std::atomic<bool> stop_{false};
    bool never_live_ = false;  // LinkMode::Out: no endpoint is ever made live
    std::atomic<uint64_t> punts_{0}, tcp_{0};
};

}  // namespace rustun::loadgen
