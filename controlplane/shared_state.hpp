// The control plane's state shared by its threads (workers, the dataplane link, the control
// socket, the signal thread), behind one mutex:
//   * membership: who is configured and who is online (Membership, one generation per
//     configuration; a reload installs a new one);
//   * limits: the timers and bounds the workers apply, from the configuration;
//   * the nonces of recently accepted Handshakes (replay refusal).
// Every accessor names the mutex it needs (REQUIRES(mu())), so the clang build with
// -Wthread-safety (scripts/test.sh) checks each use. The rules of the Membership itself: its
// configured part (clusters, keys, client configs, routes) never changes after build(), its
// runtime part (ClientEntry::rt, ::udp) only under mu().
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "admission.hpp"
#include "auth_hints.hpp"
#include "event_summary.hpp"
#include "fleet_view.hpp"
#include "config/config.hpp"
#include "membership.hpp"
#include "thread_annotations.hpp"

namespace rustun::cp {

// Timers and bounds the workers apply: the `controlplane:` section of the running configuration.
// A connection whose output queue stays above half its bound for one keepalive_interval is
// disconnected (a reader that is merely slow drains it well within that; one that stopped
// reading does not).
using Limits = ControlPlaneConfig;

class SharedState {
public:
    Mutex& mu() const RETURN_CAPABILITY(mu_) { return mu_; }

    // The current membership generation.
    Membership& members() REQUIRES(mu_) { return *members_; }
    // The same, kept alive for a caller that goes on using it after unlocking (a batch's
    // per-client stats, the keys of a trial decryption): outside mu() only its configured part
    // may be read.
    std::shared_ptr<Membership> hold_members() REQUIRES(mu_) { return members_; }
    // Installs a new generation (start, reload).
    void replace_members(std::shared_ptr<Membership> m) REQUIRES(mu_) {
        published_.store(m, std::memory_order_release);
        members_ = std::move(m);
    }
    // The current generation without the mutex (RCU style, as the dataplane's workers load their
    // generation): the TCP relay loads it once per Data batch. Its configured part may be read
    // freely; of its runtime part only the relay fields (controlplane/relay_view.hpp).
    std::shared_ptr<Membership> snapshot() const { return published_.load(std::memory_order_acquire); }

    const Limits& limits() const REQUIRES(mu_) { return limits_; }
    void set_limits(const Limits& l) REQUIRES(mu_) { limits_ = l; }
    // A copy taken under the mutex, for a thread that applies the limits without it.
    Limits limits_copy() const EXCLUDES(mu_) {
        MutexLock lk(mu_);
        return limits_;
    }

    // Kept across reloads for the identities that stay configured.
    HandshakeNonces& handshake_nonces() REQUIRES(mu_) { return nonces_; }

    // Source-address hints of trial authentication (its own mutex; never held while taking mu()).
    AuthHints& auth_hints() { return auth_hints_; }
    // Per-client events counted for the periodic info summary (logged one by one at debug).
    EventSummary& events() { return events_; }

    // The fleet's remote clients and gateways (fleet_view.hpp): empty without `fleet:`.
    FleetView& fleet_view() { return fleet_view_; }
    const FleetView& fleet_view() const { return fleet_view_; }
    // Tells the fleet registry (if any) that `identity`'s session changed; never blocks.
    void fleet_changed(std::string_view identity) {
        if (FleetNotify* n = fleet_notify_.load(std::memory_order_acquire)) n->client_changed(identity);
    }
    void set_fleet_notify(FleetNotify* n) { fleet_notify_.store(n, std::memory_order_release); }

    // A process-unique connection id (> 1: epoll tags 0 and 1 are the listener and the eventfd).
    uint64_t new_connection_id() { return next_conn_id_.fetch_add(1, std::memory_order_relaxed) + 1; }

private:
    mutable Mutex mu_;
    // shared_ptr: a worker holds the generation it routed a batch with until the batch is
    // queued, so a reload may replace it meanwhile.
    std::shared_ptr<Membership> members_ GUARDED_BY(mu_) = std::make_shared<Membership>();
    std::atomic<std::shared_ptr<Membership>> published_{members_};
    Limits limits_ GUARDED_BY(mu_);
    HandshakeNonces nonces_ GUARDED_BY(mu_);
    std::atomic<uint64_t> next_conn_id_{1};
    AuthHints auth_hints_;
    EventSummary events_;
    FleetView fleet_view_;
    std::atomic<FleetNotify*> fleet_notify_{nullptr};
};

}  // namespace rustun::cp
