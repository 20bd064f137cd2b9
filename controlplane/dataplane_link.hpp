// The control plane's end of the shared-memory channel to rustun-dataplane (docs/shm-channel.md).
//
// One thread: attaches to the channel (retrying while the dataplane is absent), pushes the full
// state (SyncBegin .. SyncEnd) on every attach and after every reload, keeps the control-plane
// heartbeat, and serves the dataplane's rings: UDP KeepAlives (authenticated here, with the
// replay check of docs/protocol-extensions.md, then bound with EndpointSet and answered over UDP)
// and Data for clients without a live UDP endpoint (delivered over their TCP connection).
//
// docs/architecture.md, "The control plane survives a dataplane restart": TCP sessions never depend on the dataplane; when it restarts
// (its segment is replaced) the link re-attaches and re-pushes everything.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "crypto/crypto_engine.hpp"
#include "crypto/rr_cookie.hpp"
#include "frame_sender.hpp"
#include "shared_state.hpp"
#include "shm/channel.hpp"
#include "shm/messages.hpp"
#include "thread_annotations.hpp"

namespace rustun::cp {

class DataplaneLink {
public:
    DataplaneLink(SharedState& state, std::string channel_path);
    ~DataplaneLink();

    Status start();
    void stop();
    // Pushes the full state again soon (after a reload renumbered clients). Called under the
    // state mutex together with the new membership (the punt path relies on it).
    void request_resync() { resync_.store(true); }

    // Hands a sealed frame to the dataplane for UDP delivery to `to`. Any thread. False if no
    // dataplane is attached or its TX ring is full (counted).
    bool send_udp(const shm::Endpoint& to, const uint8_t* frame, size_t len, CounterBlock& counters)
        EXCLUDES(ch_mu_);

    bool attached() const { return attached_.load(); }
    const std::string& channel_path() const { return path_; }
    // Why the last attach attempt failed ("" while attached or before the first attempt).
    std::string last_error() const EXCLUDES(err_mu_);
    // The attached dataplane's software version ("" when not attached or it wrote none).
    std::string dataplane_version() EXCLUDES(ch_mu_);
    // Dataplane counters and session numbers, or false if not attached (control-socket thread).
    bool dataplane_counters(std::vector<uint64_t>& values, uint64_t& sessions, uint64_t& capacity, uint64_t& epoch)
        EXCLUDES(ch_mu_);

    // The same per counter block: one per dataplane worker, then the main lcore's (metrics).
    bool dataplane_counter_blocks(std::vector<std::array<uint64_t, shm::kDpCounterCount>>& workers,
                                  std::array<uint64_t, shm::kDpCounterCount>& main, uint64_t& sessions,
                                  uint64_t& capacity) EXCLUDES(ch_mu_);

    // Written by the link thread only; any thread reads.
    const CounterBlock& counters() const { return counters_; }

private:
    void run();
    bool try_attach();
    void detach(const char* why);
    bool full_sync();
    static bool dataplane_gone(shm::Channel& ch);
    bool push_control(shm::MsgType type, const void* body, uint32_t len);
    void poll_rings();
    void handle_deliver(const shm::DeliverView& m) EXCLUDES(state_.mu());
    void set_error(const std::string& e, shm::AttachFailure why) EXCLUDES(err_mu_);
    void bind_endpoint(uint32_t client_id, const shm::Endpoint& ep, uint64_t replay_floor);

    // A UDP KeepAlive punted by the dataplane (dataplane_link_punt.cpp): frame checks, trial
    // authentication outside the state mutex, then under it the seq window, return
    // routability, the binding, and the reply.
    struct PuntOpened {
        KeepAlive ka;
        std::shared_ptr<const CipherKey> key;  // the key that opened it (its client's cluster's)
        uint32_t key_index = 0;                // ... its index in Membership::auth.keys
        uint64_t generation = 0;               // ... of this membership generation (AuthKeys)
        uint32_t frame_size = 0;
    };
    void handle_punt(const shm::PuntView& m) EXCLUDES(state_.mu());
    bool punt_is_keepalive(const shm::PuntView& m, FrameHeader& h);
    bool open_punt(const shm::PuntView& m, const FrameHeader& h, PuntOpened& out) EXCLUDES(state_.mu());
    // Applies an opened KeepAlive to its client; true if the dataplane must be told the binding
    // (EndpointSet, pushed by the caller outside the mutex) with `id` and `replay_floor`.
    bool apply_punt(const shm::PuntView& m, const PuntOpened& o, ClientId& id, uint64_t& replay_floor)
        REQUIRES(state_.mu());
    bool punt_seq_ok(const ClientEntry& e, const KeepAlive& ka, const shm::Endpoint& from, uint64_t now_us)
        REQUIRES(state_.mu());
    // True if the binding may be made or moved to `from`: it is the bound endpoint already, or
    // the KeepAlive echoes a valid cookie. Else a challenge (with a cookie) is sent.
    bool punt_endpoint_verified(ClientEntry& e, const PuntOpened& o, const shm::Endpoint& from, uint64_t now_s,
                                SteadyTime now) REQUIRES(state_.mu());
    void reply_punt(ClientId id, const PuntOpened& o, const shm::Endpoint& from) REQUIRES(state_.mu());
    // Rate limits of UDP KeepAlive replies (per identity, per source address; counted).
    bool reply_allowed(UdpBinding& b, const shm::Endpoint& from, SteadyTime now) REQUIRES(state_.mu());

    SharedState& state_;
    CounterBlock counters_;
    std::string path_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> resync_{false};
    std::atomic<bool> attached_{false};
    std::unique_ptr<CryptoEngine> engine_;
    std::unique_ptr<FrameSender> sender_;

    // Guards ch_ replacement and the TX ring's producer side (workers and this thread send).
    // ch_ is written only by the link thread (under ch_mu_), which also reads it without.
    Mutex ch_mu_;
    std::shared_ptr<shm::Channel> ch_;
    uint64_t cp_epoch_ = 0;      // of the last full sync pushed
    uint64_t epoch_base_ = 0;    // random per process
    uint64_t start_us_ = 0;      // Unix microseconds at start: the floor of accepted seqs
    std::vector<uint8_t> scratch_;
    mutable Mutex err_mu_;
    std::string last_error_ GUARDED_BY(err_mu_);
    std::chrono::steady_clock::time_point last_error_logged_{};
    RrCookie cookie_;  // return-routability cookies (docs/protocol-extensions.md)
    // source address (IPv6: /64) -> GCRA; link thread only
    std::unordered_map<std::string, SteadyTime> reply_src_tat_;
    struct AlignedDelete {
        void operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t(64)); }
    };
    std::unique_ptr<uint8_t[], AlignedDelete> msg_copy_;  // one slot, copied out of the ring
};

}  // namespace rustun::cp
