// A small etcd v3 client over gRPC (docs/fleet.md, "etcd client"): key-value calls, ownership
// transactions, leases with a keep-alive thread, and prefix watches that resume after a reconnect.
//
// This header names no gRPC or protobuf type (the implementation is behind pimpl), so code that
// uses the client compiles without the generated etcd headers; only the binaries that link
// `etcd_dep` (lib/etcd/meson.build) link gRPC.
//
// Threads: every Client method may be called from any thread at once. A LeaseKeeper and a Watcher
// each own one thread; their callbacks run on that thread and must not block for long (they
// delay the next renewal or event), and must not stop or destroy their own keeper or watcher (that
// joins the calling thread): hand the event to another thread. A Client must outlive its
// LeaseKeepers and Watchers.
//
// Errors: every failed call returns an Error whose text names the endpoint and the gRPC status,
// e.g. "etcd 127.0.0.1:2379: Put /rustun/v1/gw/gw-1: UNAVAILABLE: failed to connect".
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "util/result.hpp"

namespace rustun::etcd {

struct Options {
    // "http://host:port" or "https://host:port" (a bare "host:port" means http). At least one.
    // All endpoints are members of one etcd cluster; calls go to one of them at a time and move
    // to the next on a connection failure (see Client).
    std::vector<std::string> endpoints;
    // TLS (https:// endpoints only): CA bundle to verify the server (empty = the system roots) and
    // an optional client certificate and key (both or neither). Files are read by Client::create.
    std::string ca_file;
    std::string cert_file;
    std::string key_file;
    // How long a call waits for a connection that is not up yet before it tries the next endpoint.
    std::chrono::milliseconds dial_timeout{2000};
    // Deadline of one unary call (and of one keep-alive round trip).
    std::chrono::milliseconds rpc_timeout{3000};
    // A watch asks etcd for a progress notification after this much silence, so that
    // Watcher::lag() stays about this small on a healthy idle stream.
    std::chrono::milliseconds watch_progress_interval{2000};
};

// One key-value pair as etcd stores it (mvccpb.KeyValue).
struct KeyValue {
    std::string key;
    std::string value;
    int64_t create_revision = 0;
    int64_t mod_revision = 0;  // revision of the last change of this key
    int64_t version = 0;       // number of changes since creation (1 = just created)
    int64_t lease = 0;         // 0 = no lease
};

// The answer of a range read: the matching pairs, sorted by key, and the store revision at which
// they were read (the response header's revision; watch from revision + 1 to miss nothing).
struct RangeResult {
    std::vector<KeyValue> kvs;
    int64_t revision = 0;
};

// The outcome of an ownership transaction (Client::put_if / delete_if).
struct TxnResult {
    bool succeeded = false;  // the compare held and the write was applied
    int64_t revision = 0;    // store revision after the transaction (header revision)
    // When !succeeded: the key as it is now; nullopt = the key does not exist.
    std::optional<KeyValue> current;
};

// One item of an ownership batch (Client::write_if_batch): a put_if of `value` under `lease`, or
// a delete_if when `remove` is set; either iff the key's mod_revision equals
// `expected_mod_revision` (0 = iff the key does not exist).
struct CondWrite {
    std::string key;
    std::string value;  // puts only
    int64_t lease = 0;  // puts only; 0 = no lease
    int64_t expected_mod_revision = 0;
    bool remove = false;
};

// The outcome of Client::write_if_batch: one TxnResult per item, in the items' order, with the
// meaning of put_if's / delete_if's; and the etcd transactions it took (1 when every compare
// held; one more per round in which some compare failed).
struct BatchResult {
    std::vector<TxnResult> items;
    uint32_t txns = 0;
};

// The size limits of one batch, below etcd's defaults: --max-txn-ops 128 operations per branch
// of a Txn, --max-request-bytes 1.5 MiB per request.
inline constexpr size_t kMaxBatchItems = 64;
inline constexpr size_t kMaxBatchBytes = 1024 * 1024;

struct Lease {
    int64_t id = 0;
    std::chrono::seconds ttl{0};  // as granted by etcd (it may round a small TTL up)
};

// Monotonic counters of one Client, its LeaseKeepers and its Watchers.
struct Counters {
    uint64_t rpc_errors = 0;        // failed unary calls and failed stream operations
    uint64_t reconnects = 0;        // moves to another endpoint, stream re-establishments
    uint64_t watch_restarts = 0;    // watch streams re-created after a failure
    uint64_t watch_resyncs = 0;     // full re-lists after a compacted revision
    uint64_t watch_events = 0;      // put/delete events delivered
    uint64_t lease_renewals = 0;    // successful keep-alive round trips
    uint64_t leases_lost = 0;       // leases reported lost by a LeaseKeeper
};

struct ClientState;  // the implementation (etcd_client_state.hpp): channels, stubs, counters

class Client {
public:
    // Checks the options (endpoint syntax, TLS files readable, certificate and key paired) and
    // reads the TLS files. Does not connect: the first call does.
    static Result<std::unique_ptr<Client>> create(Options options);
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Put; returns the store revision of the write. lease 0 = no lease.
    Result<int64_t> put(const std::string& key, const std::string& value, int64_t lease = 0);
    // The key, or an empty kvs if it does not exist.
    Result<RangeResult> get(const std::string& key);
    // Every key starting with `prefix` (prefix "" = every key).
    Result<RangeResult> get_prefix(const std::string& prefix);
    // Delete; return the number of keys deleted.
    Result<int64_t> delete_key(const std::string& key);
    Result<int64_t> delete_prefix(const std::string& prefix);

    // Ownership: puts `value` (with `lease`) iff the key's mod_revision equals
    // `expected_mod_revision` (0 = iff the key does not exist). Two callers racing with the same
    // expected revision: exactly one succeeds. A call retried on another endpoint after a timeout
    // (Client fails over on UNAVAILABLE and DEADLINE_EXCEEDED) may report failure for its own
    // first attempt's write: compare `current->value` (and `current->lease`) when that matters.
    Result<TxnResult> put_if(const std::string& key, const std::string& value, int64_t lease,
                             int64_t expected_mod_revision);
    // Deletes the key iff its mod_revision equals `expected_mod_revision` (a release that cannot
    // remove a newer owner's entry).
    Result<TxnResult> delete_if(const std::string& key, int64_t expected_mod_revision);
    // Many ownership transactions in one etcd Txn: N compares (each key's mod_revision), N puts
    // or deletes, and a failure branch reading every key. When every compare holds, everything
    // is written at one revision in one Txn. When some fail (etcd's Txn is all or nothing,
    // nothing is written), the keys read back tell which: those items are reported as put_if
    // would (succeeded = false, `current`), and the items whose compare held are sent again in
    // the next Txn, until every item is settled. So the result is per item, not atomic over the
    // batch, and the item outcomes are those of N separate put_if / delete_if calls. At most
    // kMaxBatchItems items of at most kMaxBatchBytes (keys and values) in all, no key twice:
    // otherwise an error before anything is sent. An empty batch sends nothing. The retry
    // caveat of put_if holds per item.
    Result<BatchResult> write_if_batch(std::span<const CondWrite> items);

    // A lease of `ttl` (>= 1 s); keys put with it vanish when it expires or is revoked.
    Result<Lease> lease_grant(std::chrono::seconds ttl);
    // Revokes the lease and deletes its keys. Revoking an unknown lease is not an error.
    Status lease_revoke(int64_t lease_id);

    Counters counters() const;
    // The endpoint the next call goes to ("127.0.0.1:2379").
    std::string current_endpoint() const;

    ClientState& state() { return *state_; }  // for LeaseKeeper and Watcher

private:
    explicit Client(std::unique_ptr<ClientState> state);
    std::unique_ptr<ClientState> state_;
};

// Keeps one lease alive: a thread with a LeaseKeepAlive stream renews it every ttl/3. A failed
// stream is re-opened on the next endpoint. The lease is reported lost (once, then the thread
// ends) when etcd answers TTL <= 0 (expired or revoked) or when no renewal succeeded for a whole
// ttl. A lost lease is not re-granted here: the owner grants a new one and re-publishes its keys.
class LeaseKeeper {
public:
    using LostCallback = std::function<void(const std::string& reason)>;
    LeaseKeeper(Client& client, Lease lease, LostCallback on_lost);
    ~LeaseKeeper();  // stop()
    LeaseKeeper(const LeaseKeeper&) = delete;
    LeaseKeeper& operator=(const LeaseKeeper&) = delete;

    // Ends the thread without revoking the lease (it expires after its ttl unless revoked).
    void stop();
    bool alive() const { return !lost_.load(std::memory_order_acquire); }
    int64_t lease_id() const { return lease_.id; }

private:
    void run();
    Client& client_;
    Lease lease_;
    LostCallback on_lost_;
    std::atomic<bool> lost_{false};
    std::atomic<bool> stop_{false};
    struct Thread;
    std::unique_ptr<Thread> thread_;
};

// One event of a watch. For a delete, kv.key and kv.mod_revision (the delete's revision) are set.
struct WatchEvent {
    enum class Type : uint8_t { Put, Delete };
    Type type = Type::Put;
    KeyValue kv;
};

// Watches every key under a prefix on its own thread.
//  * start_revision 0: the watcher first lists the prefix and delivers it through on_snapshot,
//    then watches from the listed revision + 1. start_revision > 0: watches from it directly.
//  * Events arrive in revision order, each at most once; a batch holds the events of one or more
//    whole revisions.
//  * After a stream failure (etcd restarted, member killed) the watch is re-created on the next
//    endpoint from the last delivered revision + 1: no event is lost or repeated.
//  * When that revision has been compacted away, the watcher re-lists the prefix and delivers the
//    whole state through on_snapshot again ("resync"): the caller replaces its view with it.
class Watcher {
public:
    struct Callbacks {
        // The complete state under the prefix at `revision` (first listing and every resync).
        std::function<void(const RangeResult& snapshot)> on_snapshot;
        // Events after the last snapshot or batch, in revision order.
        std::function<void(const std::vector<WatchEvent>& events)> on_events;
        // Optional: the stream went down (false) or is watching again (true).
        std::function<void(bool connected)> on_connection;
    };
    Watcher(Client& client, std::string prefix, int64_t start_revision, Callbacks callbacks);
    ~Watcher();  // stop()
    Watcher(const Watcher&) = delete;
    Watcher& operator=(const Watcher&) = delete;

    void stop();
    // Time since the last event or progress notification received (0 before the first one is
    // due); grows while etcd is unreachable.
    std::chrono::milliseconds lag() const;
    // The revision of the last delivered snapshot or event; -1 while a listing is due.
    int64_t revision() const { return revision_.load(std::memory_order_acquire); }

private:
    void run();
    Client& client_;
    std::string prefix_;
    Callbacks callbacks_;
    std::atomic<int64_t> revision_{0};
    std::atomic<int64_t> last_activity_ns_{0};  // steady clock of the last event/progress
    std::atomic<bool> stop_{false};
    struct Thread;
    std::unique_ptr<Thread> thread_;
};

// The end of the key range of a prefix ("abc" -> "abd", "" -> "\0"), as etcd's range_end.
std::string prefix_range_end(const std::string& prefix);

}  // namespace rustun::etcd
