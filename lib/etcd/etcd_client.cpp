// etcd::Client: the unary calls (KV, Txn, lease grant/revoke) over ClientState's failover.
#include "etcd/etcd_client.hpp"

#include <numeric>
#include <set>
#include <string_view>

#include "etcd/etcd_state.hpp"

namespace rustun::etcd {

namespace {

KeyValue to_kv(const mvccpb::KeyValue& p) {
    return KeyValue{.key = p.key(), .value = p.value(), .create_revision = p.create_revision(),
                    .mod_revision = p.mod_revision(), .version = p.version(), .lease = p.lease()};
}

RangeResult to_range(const etcdserverpb::RangeResponse& r) {
    RangeResult out;
    out.revision = r.header().revision();
    out.kvs.reserve(static_cast<size_t>(r.kvs_size()));
    for (const auto& kv : r.kvs()) out.kvs.push_back(to_kv(kv));
    return out;
}

// The ownership compare: the key's mod_revision == expected (0 for a key that does not exist).
void add_compare(etcdserverpb::TxnRequest& req, const std::string& key, int64_t expected) {
    auto* c = req.add_compare();
    c->set_key(key);
    c->set_target(etcdserverpb::Compare::MOD);
    c->set_result(etcdserverpb::Compare::EQUAL);
    c->set_mod_revision(expected);
}

Result<TxnResult> run_txn(ClientState& st, std::string_view what, etcdserverpb::TxnRequest& req,
                          const std::string& key) {
    req.add_failure()->mutable_request_range()->set_key(key);
    etcdserverpb::TxnResponse resp;
    Status s = run_unary(st, what, [&](size_t i, grpc::ClientContext& ctx) {
        return st.kv[i]->Txn(&ctx, req, &resp);
    });
    if (!s.ok()) return Error{s.error()};
    TxnResult out;
    out.succeeded = resp.succeeded();
    out.revision = resp.header().revision();
    if (!out.succeeded && resp.responses_size() > 0 && resp.responses(0).has_response_range()) {
        const auto& r = resp.responses(0).response_range();
        if (r.kvs_size() > 0) out.current = to_kv(r.kvs(0));
    }
    return out;
}

}  // namespace

std::string prefix_range_end(const std::string& prefix) {
    std::string end = prefix;
    while (!end.empty()) {
        auto& last = reinterpret_cast<unsigned char&>(end.back());
        if (last < 0xff) {
            ++last;
            return end;
        }
        end.pop_back();
    }
    return std::string(1, '\0');  // every key (>= prefix)
}

Client::Client(std::unique_ptr<ClientState> state) : state_(std::move(state)) {}
Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::create(Options options) {
    auto st = ClientState::create(std::move(options));
    if (!st.ok()) return Error{st.error()};
    return std::unique_ptr<Client>(new Client(std::move(st).value()));
}

Result<int64_t> Client::put(const std::string& key, const std::string& value, int64_t lease) {
    etcdserverpb::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    req.set_lease(lease);
    etcdserverpb::PutResponse resp;
    Status s = run_unary(*state_, "Put " + key, [&](size_t i, grpc::ClientContext& ctx) {
        return state_->kv[i]->Put(&ctx, req, &resp);
    });
    if (!s.ok()) return Error{s.error()};
    return resp.header().revision();
}

static Result<RangeResult> range(ClientState& st, const std::string& key, const std::string& end) {
    etcdserverpb::RangeRequest req;
    req.set_key(key);
    if (!end.empty()) req.set_range_end(end);
    etcdserverpb::RangeResponse resp;
    Status s = run_unary(st, "Range " + key, [&](size_t i, grpc::ClientContext& ctx) {
        return st.kv[i]->Range(&ctx, req, &resp);
    });
    if (!s.ok()) return Error{s.error()};
    return to_range(resp);
}

Result<RangeResult> Client::get(const std::string& key) { return range(*state_, key, {}); }

Result<RangeResult> Client::get_prefix(const std::string& prefix) {
    return range(*state_, prefix.empty() ? std::string(1, '\0') : prefix, prefix_range_end(prefix));
}

static Result<int64_t> delete_range(ClientState& st, const std::string& key, const std::string& end) {
    etcdserverpb::DeleteRangeRequest req;
    req.set_key(key);
    if (!end.empty()) req.set_range_end(end);
    etcdserverpb::DeleteRangeResponse resp;
    Status s = run_unary(st, "DeleteRange " + key, [&](size_t i, grpc::ClientContext& ctx) {
        return st.kv[i]->DeleteRange(&ctx, req, &resp);
    });
    if (!s.ok()) return Error{s.error()};
    return resp.deleted();
}

Result<int64_t> Client::delete_key(const std::string& key) { return delete_range(*state_, key, {}); }

Result<int64_t> Client::delete_prefix(const std::string& prefix) {
    return delete_range(*state_, prefix.empty() ? std::string(1, '\0') : prefix, prefix_range_end(prefix));
}

Result<TxnResult> Client::put_if(const std::string& key, const std::string& value, int64_t lease,
                                 int64_t expected_mod_revision) {
    etcdserverpb::TxnRequest req;
    add_compare(req, key, expected_mod_revision);
    auto* put = req.add_success()->mutable_request_put();
    put->set_key(key);
    put->set_value(value);
    put->set_lease(lease);
    return run_txn(*state_, "Txn put " + key, req, key);
}

Result<TxnResult> Client::delete_if(const std::string& key, int64_t expected_mod_revision) {
    etcdserverpb::TxnRequest req;
    add_compare(req, key, expected_mod_revision);
    req.add_success()->mutable_request_delete_range()->set_key(key);
    return run_txn(*state_, "Txn delete " + key, req, key);
}

Result<BatchResult> Client::write_if_batch(std::span<const CondWrite> items) {
    BatchResult out;
    out.items.resize(items.size());
    if (items.empty()) return out;
    if (items.size() > kMaxBatchItems)
        return Error{"etcd Txn batch: " + std::to_string(items.size()) + " items (at most " +
                     std::to_string(kMaxBatchItems) + ")"};
    size_t bytes = 0;
    std::set<std::string_view> keys;
    for (const CondWrite& w : items) {
        bytes += 2 * w.key.size() + w.value.size();
        if (!keys.insert(w.key).second) return Error{"etcd Txn batch: key " + w.key + " given twice"};
    }
    if (bytes > kMaxBatchBytes)
        return Error{"etcd Txn batch: " + std::to_string(bytes) + " bytes of keys and values (at most " +
                     std::to_string(kMaxBatchBytes) + ")"};
    std::vector<size_t> pending(items.size());
    std::iota(pending.begin(), pending.end(), size_t{0});
    while (!pending.empty()) {
        etcdserverpb::TxnRequest req;
        for (size_t i : pending) {
            const CondWrite& w = items[i];
            add_compare(req, w.key, w.expected_mod_revision);
            if (w.remove) {
                req.add_success()->mutable_request_delete_range()->set_key(w.key);
            } else {
                auto* put = req.add_success()->mutable_request_put();
                put->set_key(w.key);
                put->set_value(w.value);
                put->set_lease(w.lease);
            }
            req.add_failure()->mutable_request_range()->set_key(w.key);
        }
        etcdserverpb::TxnResponse resp;
        const std::string what = "Txn batch of " + std::to_string(pending.size()) + " from " + items[pending[0]].key;
        Status s = run_unary(*state_, what, [&](size_t i, grpc::ClientContext& ctx) {
            return state_->kv[i]->Txn(&ctx, req, &resp);
        });
        if (!s.ok()) return Error{s.error()};
        ++out.txns;
        const int64_t revision = resp.header().revision();
        if (resp.succeeded()) {
            for (size_t i : pending) out.items[i] = TxnResult{.succeeded = true, .revision = revision, .current = {}};
            break;
        }
        if (resp.responses_size() != static_cast<int>(pending.size()))
            return Error{"etcd " + what + ": " + std::to_string(resp.responses_size()) + " answers to " +
                         std::to_string(pending.size()) + " reads"};
        // The keys as they are at `revision`: an item whose compare held was only held back by
        // the others and goes again; the others are settled (lost compares).
        std::vector<size_t> again;
        std::vector<std::optional<KeyValue>> held;
        for (size_t j = 0; j < pending.size(); ++j) {
            const size_t i = pending[j];
            std::optional<KeyValue> current;
            if (resp.responses(static_cast<int>(j)).has_response_range()) {
                const auto& r = resp.responses(static_cast<int>(j)).response_range();
                if (r.kvs_size() > 0) current = to_kv(r.kvs(0));
            }
            const int64_t now = current ? current->mod_revision : 0;
            if (now == items[i].expected_mod_revision) {
                again.push_back(i);
                held.push_back(std::move(current));
            } else {
                out.items[i] = TxnResult{.succeeded = false, .revision = revision, .current = std::move(current)};
            }
        }
        if (again.size() == pending.size()) {
            // Every compare read back as holding, yet the Txn failed: cannot happen with etcd's
            // semantics; settle them as lost compares (the caller re-reads) rather than loop.
            for (size_t j = 0; j < again.size(); ++j)
                out.items[again[j]] = TxnResult{.succeeded = false, .revision = revision, .current = std::move(held[j])};
            break;
        }
        pending = std::move(again);
    }
    return out;
}

Result<Lease> Client::lease_grant(std::chrono::seconds ttl) {
    if (ttl.count() < 1) return Error{"etcd LeaseGrant: ttl must be at least 1 s"};
    etcdserverpb::LeaseGrantRequest req;
    req.set_ttl(ttl.count());
    etcdserverpb::LeaseGrantResponse resp;
    Status s = run_unary(*state_, "LeaseGrant", [&](size_t i, grpc::ClientContext& ctx) {
        return state_->lease[i]->LeaseGrant(&ctx, req, &resp);
    });
    if (!s.ok()) return Error{s.error()};
    if (!resp.error().empty()) return Error{"etcd LeaseGrant: " + resp.error()};
    return Lease{.id = resp.id(), .ttl = std::chrono::seconds(resp.ttl())};
}

Status Client::lease_revoke(int64_t lease_id) {
    etcdserverpb::LeaseRevokeRequest req;
    req.set_id(lease_id);
    etcdserverpb::LeaseRevokeResponse resp;
    return run_unary(*state_, "LeaseRevoke " + std::to_string(lease_id),
                     [&](size_t i, grpc::ClientContext& ctx) {
                         grpc::Status r = state_->lease[i]->LeaseRevoke(&ctx, req, &resp);
                         // "etcdserver: requested lease not found": already gone.
                         return r.error_code() == grpc::StatusCode::NOT_FOUND ? grpc::Status::OK : r;
                     });
}

Counters Client::counters() const {
    const AtomicCounters& c = state_->counters;
    auto get = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    return Counters{.rpc_errors = get(c.rpc_errors), .reconnects = get(c.reconnects),
                    .watch_restarts = get(c.watch_restarts), .watch_resyncs = get(c.watch_resyncs),
                    .watch_events = get(c.watch_events), .lease_renewals = get(c.lease_renewals),
                    .leases_lost = get(c.leases_lost)};
}

std::string Client::current_endpoint() const {
    return state_->endpoints[state_->current.load(std::memory_order_acquire) % state_->endpoints.size()].target;
}

}  // namespace rustun::etcd
