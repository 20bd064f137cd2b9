// The inside of an etcd::Client (internal to lib/etcd): one gRPC channel and stubs per endpoint,
// the endpoint calls currently go to, endpoint failover and the counters.
//
// Failover: `current` names the endpoint every new call and stream starts on. An endpoint whose
// connection fails (connection refused, not connected within dial_timeout, UNAVAILABLE) is left
// for the next one in the list. A call that failed with UNAVAILABLE or DEADLINE_EXCEEDED is
// retried on the next endpoint, once per endpoint: a member that lost its leader drops proposals
// and answers only after etcd's own request timeout (5 s and more), longer than our deadline. A
// retried write may have been applied by the first attempt: puts are idempotent, and the
// ownership transactions return the current value so that the caller can recognise its own write
// (etcd_client.hpp).
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "etcd/etcd_client.hpp"
#include "etcd/etcd_endpoint.hpp"
#include "rpc.grpc.pb.h"

namespace rustun::etcd {

struct AtomicCounters {
    std::atomic<uint64_t> rpc_errors{0};
    std::atomic<uint64_t> reconnects{0};
    std::atomic<uint64_t> watch_restarts{0};
    std::atomic<uint64_t> watch_resyncs{0};
    std::atomic<uint64_t> watch_events{0};
    std::atomic<uint64_t> lease_renewals{0};
    std::atomic<uint64_t> leases_lost{0};
};

inline void bump(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

struct ClientState {
    Options options;
    std::vector<Endpoint> endpoints;  // same order as options.endpoints
    std::vector<std::shared_ptr<grpc::Channel>> channels;
    std::vector<std::unique_ptr<etcdserverpb::KV::Stub>> kv;
    std::vector<std::unique_ptr<etcdserverpb::Lease::Stub>> lease;
    std::vector<std::unique_ptr<etcdserverpb::Watch::Stub>> watch;
    std::atomic<size_t> current{0};
    AtomicCounters counters;

    // Parses the endpoints, reads the TLS files and creates the channels (which connect lazily).
    static Result<std::unique_ptr<ClientState>> create(Options options);

    // An endpoint whose channel is connected, trying each from `current` on (skipping those in
    // TRANSIENT_FAILURE, waiting up to dial_timeout for one that is connecting), then waiting up
    // to dial_timeout on `current` once more. Makes the endpoint found `current`. A set `cancel`
    // (a keeper's or watcher's stop flag) ends the waiting within 100 ms.
    Result<size_t> connected_endpoint(const std::atomic<bool>* cancel = nullptr);
    // Moves `current` past `failed` if it still names it (counted as a reconnect).
    void leave(size_t failed);
    // "etcd <target>: <what>: <CODE>: <message>".
    std::string describe(size_t i, std::string_view what, const grpc::Status& s) const;

    std::chrono::system_clock::time_point rpc_deadline() const {
        return std::chrono::system_clock::now() + options.rpc_timeout;
    }
};

// Runs one unary call `fn(size_t endpoint, grpc::ClientContext&) -> grpc::Status` with the rpc
// deadline on a connected endpoint, failing over as described above; the error names the
// endpoint of the last attempt.
template <typename Fn>
Status run_unary(ClientState& st, std::string_view what, Fn&& fn) {
    std::string last;
    for (size_t attempt = 0; attempt < st.endpoints.size(); ++attempt) {
        auto i = st.connected_endpoint();
        if (!i.ok()) {
            bump(st.counters.rpc_errors);
            return Error{std::string(what) + ": " + i.error()};
        }
        grpc::ClientContext ctx;
        ctx.set_deadline(st.rpc_deadline());
        grpc::Status s = fn(*i, ctx);
        if (s.ok()) return Status::success();
        bump(st.counters.rpc_errors);
        last = st.describe(*i, what, s);
        if (s.error_code() != grpc::StatusCode::UNAVAILABLE &&
            s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED)
            return Error{last};
        st.leave(*i);
    }
    return Error{last};
}

// The steady clock in nanoseconds (the watch lag's time base).
inline int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace rustun::etcd
