// Binding mode "shm": rustun-loadgen plays the control plane on the dataplane's shared-memory
// channel (as dataplane/smoke_driver.cpp does): a full sync of the scenario's clusters, clients
// and endpoints, then EndpointSet for every client (= "an authenticated KeepAlive just arrived",
// which makes the endpoint live), a heartbeat every 100 ms, the DpToCp rings drained, and the
// EndpointSets repeated every 10 s like UDP KeepAlives. Same host as the dataplane only.
#pragma once

#include <atomic>
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
    // `link`: the fleet's UDP link instead (docs/fleet.md, "UDP link through the dataplane"):
    // every client is bound but never live and online on member slot 0, whose dataplane address
    // is kLinkPeer: the dataplane seals every relayed frame in a link frame to it.
    std::string start(const std::string& channel, const Scenario& sc, uint32_t wait_ms, bool link = false);
    static constexpr const char* kLinkPeer = "192.0.2.254:7100";
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
    bool link_ = false;
    std::atomic<uint64_t> punts_{0}, tcp_{0};
};

}  // namespace rustun::loadgen
