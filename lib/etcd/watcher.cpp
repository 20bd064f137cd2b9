// etcd::Watcher: a prefix watch that resumes from the last delivered revision after a reconnect
// and re-lists after a compaction (docs/fleet.md, "etcd client": watches).
#include <algorithm>
#include <thread>

#include "etcd/bidi_stream.hpp"
#include "etcd/etcd_client.hpp"
#include "etcd/etcd_state.hpp"
#include "util/thread_name.hpp"

namespace rustun::etcd {

namespace {
using Clock = std::chrono::steady_clock;
using WatchStream = BidiStream<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>;
constexpr std::chrono::milliseconds kSlice{100};  // longest wait between looks at stop_
constexpr std::chrono::milliseconds kMaxBackoff{1000};

WatchEvent to_event(const mvccpb::Event& e) {
    WatchEvent out;
    out.type = e.type() == mvccpb::Event::DELETE ? WatchEvent::Type::Delete : WatchEvent::Type::Put;
    const auto& kv = e.kv();
    out.kv = KeyValue{.key = kv.key(), .value = kv.value(), .create_revision = kv.create_revision(),
                      .mod_revision = kv.mod_revision(), .version = kv.version(), .lease = kv.lease()};
    return out;
}

// How one watch stream ended.
enum class StreamEnd { Stopped, Failed, Compacted };
}  // namespace

struct Watcher::Thread {
    std::thread thread;
};

Watcher::Watcher(Client& client, std::string prefix, int64_t start_revision, Callbacks callbacks)
    : client_(client), prefix_(std::move(prefix)), callbacks_(std::move(callbacks)),
      thread_(std::make_unique<Thread>()) {
    // start_revision 0: list first (revision_ -1: a listing is due).
    revision_.store(start_revision > 0 ? start_revision - 1 : -1, std::memory_order_release);
    last_activity_ns_.store(steady_ns(), std::memory_order_release);
    thread_->thread = std::thread([this] { run(); });
    name_thread(thread_->thread, "etcd-watch");
}

Watcher::~Watcher() { stop(); }

void Watcher::stop() {
    stop_.store(true, std::memory_order_release);
    if (thread_ && thread_->thread.joinable()) thread_->thread.join();
}

std::chrono::milliseconds Watcher::lag() const {
    const int64_t ns = steady_ns() - last_activity_ns_.load(std::memory_order_acquire);
    return std::chrono::milliseconds(std::max<int64_t>(0, ns / 1'000'000));
}

void Watcher::run() {
    ClientState& st = client_.state();
    auto stopped = [&] { return stop_.load(std::memory_order_acquire); };
    auto pause = [&](std::chrono::milliseconds d) {
        const auto until = Clock::now() + d;
        while (!stopped() && Clock::now() < until) std::this_thread::sleep_for(kSlice);
    };
    auto backoff = std::chrono::milliseconds(100);
    bool connected = false;
    auto set_connected = [&](bool c) {
        if (c == connected) return;
        connected = c;
        if (callbacks_.on_connection) callbacks_.on_connection(c);
    };

    while (!stopped()) {
        // revision_ < 0: a (re-)listing is due (first start with revision 0, or a compaction).
        if (revision_.load(std::memory_order_acquire) < 0) {
            // Connected first, so that stop() is not held up by a listing that waits for etcd.
            auto up = st.connected_endpoint(&stop_);
            auto snap = up.ok() ? client_.get_prefix(prefix_) : Result<RangeResult>(Error{up.error()});
            if (!snap.ok()) {
                set_connected(false);
                pause(backoff);
                backoff = std::min(backoff * 2, kMaxBackoff);
                continue;
            }
            last_activity_ns_.store(steady_ns(), std::memory_order_release);
            revision_.store(snap->revision, std::memory_order_release);
            if (callbacks_.on_snapshot) callbacks_.on_snapshot(*snap);
        }

        auto ep = st.connected_endpoint(&stop_);
        const size_t i = ep.ok() ? *ep : st.current.load() % st.endpoints.size();
        StreamEnd end = StreamEnd::Failed;
        if (ep.ok()) {
            WatchStream stream;
            if (stream.start([&](grpc::ClientContext* c, grpc::CompletionQueue* q) {
                    return st.watch[i]->PrepareAsyncWatch(c, q);
                }, std::chrono::system_clock::now() + st.options.dial_timeout)) {
                etcdserverpb::WatchRequest req;
                auto* create = req.mutable_create_request();
                create->set_key(prefix_.empty() ? std::string(1, '\0') : prefix_);
                create->set_range_end(prefix_range_end(prefix_));
                create->set_start_revision(revision_.load(std::memory_order_acquire) + 1);
                stream.write(req);
                stream.read();
                end = StreamEnd::Stopped;
                auto last_progress_ask = Clock::now();
                bool created = false;
                while (!stopped()) {
                    auto e = stream.next(std::chrono::system_clock::now() + kSlice);
                    if (e == WatchStream::Event::Failed) {
                        end = StreamEnd::Failed;
                        break;
                    }
                    if (e == WatchStream::Event::ReadDone) {
                        const etcdserverpb::WatchResponse& r = stream.response();
                        last_activity_ns_.store(steady_ns(), std::memory_order_release);
                        if (r.compact_revision() > 0) {
                            end = StreamEnd::Compacted;
                            break;
                        }
                        if (r.canceled()) {  // refused for another reason: start over
                            end = StreamEnd::Failed;
                            break;
                        }
                        if (r.created()) {
                            created = true;
                            set_connected(true);
                            backoff = std::chrono::milliseconds(100);
                        }
                        if (r.events_size() > 0) {
                            std::vector<WatchEvent> events;
                            events.reserve(static_cast<size_t>(r.events_size()));
                            for (const auto& ev : r.events()) events.push_back(to_event(ev));
                            revision_.store(events.back().kv.mod_revision, std::memory_order_release);
                            bump(st.counters.watch_events, events.size());
                            if (callbacks_.on_events) callbacks_.on_events(events);
                        }
                        stream.read();
                    }
                    // Ask for a progress notification after a quiet interval (feeds lag()).
                    if (created && !stream.writing() &&
                        Clock::now() - last_progress_ask >= st.options.watch_progress_interval &&
                        std::chrono::nanoseconds(steady_ns() - last_activity_ns_.load()) >=
                            st.options.watch_progress_interval) {
                        etcdserverpb::WatchRequest p;
                        p.mutable_progress_request();
                        stream.write(p);
                        last_progress_ask = Clock::now();
                    }
                    // A stream that stays silent for two intervals after a progress request is
                    // dead (a half-open connection): re-create it.
                    if (created && std::chrono::nanoseconds(steady_ns() - last_activity_ns_.load()) >=
                                       2 * st.options.watch_progress_interval + st.options.rpc_timeout) {
                        end = StreamEnd::Failed;
                        break;
                    }
                }
            }
        }
        if (end == StreamEnd::Stopped) break;
        if (end == StreamEnd::Compacted) {
            // The revision to resume from is gone: re-list the prefix (a resync).
            bump(st.counters.watch_resyncs);
            revision_.store(-1, std::memory_order_release);
            continue;
        }
        set_connected(false);
        bump(st.counters.watch_restarts);
        bump(st.counters.rpc_errors);
        st.leave(i);
        pause(backoff);
        backoff = std::min(backoff * 2, kMaxBackoff);
    }
}

}  // namespace rustun::etcd
