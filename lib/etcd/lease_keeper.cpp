// etcd::LeaseKeeper: renews one lease every ttl/3 over a LeaseKeepAlive stream (docs/fleet.md,
// "etcd client": leases).
#include <algorithm>
#include <thread>

#include "etcd/bidi_stream.hpp"
#include "etcd/etcd_client.hpp"
#include "etcd/etcd_state.hpp"
#include "util/thread_name.hpp"

namespace rustun::etcd {

namespace {
using Clock = std::chrono::steady_clock;
using KeepAliveStream = BidiStream<etcdserverpb::LeaseKeepAliveRequest, etcdserverpb::LeaseKeepAliveResponse>;
constexpr std::chrono::milliseconds kSlice{100};  // longest wait between looks at stop_
}  // namespace

struct LeaseKeeper::Thread {
    std::thread thread;
};

LeaseKeeper::LeaseKeeper(Client& client, Lease lease, LostCallback on_lost)
    : client_(client), lease_(lease), on_lost_(std::move(on_lost)), thread_(std::make_unique<Thread>()) {
    thread_->thread = std::thread([this] { run(); });
    name_thread(thread_->thread, "etcd-lease");
}

LeaseKeeper::~LeaseKeeper() { stop(); }

void LeaseKeeper::stop() {
    stop_.store(true, std::memory_order_release);
    if (thread_ && thread_->thread.joinable()) thread_->thread.join();
}

void LeaseKeeper::run() {
    ClientState& st = client_.state();
    const auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(std::max(lease_.ttl, std::chrono::seconds(1)));
    const auto period = ttl / 3;
    auto last_renewal = Clock::now();  // the grant itself
    auto stopped = [&] { return stop_.load(std::memory_order_acquire); };
    auto lose = [&](const std::string& reason) {
        lost_.store(true, std::memory_order_release);
        bump(st.counters.leases_lost);
        if (on_lost_) on_lost_(reason);
    };
    auto backoff = std::chrono::milliseconds(100);
    std::string last_error;

    while (!stopped()) {
        if (Clock::now() - last_renewal >= ttl)
            return lose("lease " + std::to_string(lease_.id) + ": not renewed for its ttl of " +
                        std::to_string(lease_.ttl.count()) + " s" + (last_error.empty() ? "" : " (" + last_error + ")"));
        auto ep = st.connected_endpoint(&stop_);
        size_t i = ep.ok() ? *ep : st.current.load() % st.endpoints.size();
        KeepAliveStream stream;
        bool up = ep.ok() && stream.start(
                                 [&](grpc::ClientContext* c, grpc::CompletionQueue* q) {
                                     return st.lease[i]->PrepareAsyncLeaseKeepAlive(c, q);
                                 },
                                 std::chrono::system_clock::now() + st.options.dial_timeout);
        // One round trip per period while the stream works.
        while (up && !stopped()) {
            etcdserverpb::LeaseKeepAliveRequest req;
            req.set_id(lease_.id);
            stream.write(req);
            stream.read();
            const auto answer_by = Clock::now() + st.options.rpc_timeout;
            bool answered = false;
            while (up && !answered && !stopped()) {
                const auto now = Clock::now();
                if (now >= answer_by) {
                    up = false;
                    last_error = "etcd " + st.endpoints[i].target + ": LeaseKeepAlive: no answer within the rpc timeout";
                    break;
                }
                auto e = stream.next(std::chrono::system_clock::now() + std::min<Clock::duration>(kSlice, answer_by - now));
                if (e == KeepAliveStream::Event::Failed) {
                    up = false;
                    last_error = "etcd " + st.endpoints[i].target + ": LeaseKeepAlive stream failed";
                } else if (e == KeepAliveStream::Event::ReadDone) {
                    answered = true;
                }
            }
            if (!answered) break;
            if (stream.response().ttl() <= 0)
                return lose("lease " + std::to_string(lease_.id) + ": expired or revoked (etcd " +
                            st.endpoints[i].target + " answered TTL 0)");
            last_renewal = Clock::now();
            bump(st.counters.lease_renewals);
            backoff = std::chrono::milliseconds(100);
            // Sleep until the next renewal, watching the stream for failure meanwhile.
            const auto next_at = last_renewal + period;
            while (up && !stopped() && Clock::now() < next_at) {
                if (stream.writing()) {
                    if (stream.next(std::chrono::system_clock::now() + kSlice) == KeepAliveStream::Event::Failed) up = false;
                } else {
                    std::this_thread::sleep_for(std::min<Clock::duration>(kSlice, next_at - Clock::now()));
                }
            }
        }
        if (stopped()) return;
        // The stream failed or never started: count it, move on to the next endpoint, retry.
        bump(st.counters.rpc_errors);
        if (!ep.ok()) last_error = ep.error();
        st.leave(i);
        const auto until = Clock::now() + backoff;
        while (!stopped() && Clock::now() < until) std::this_thread::sleep_for(kSlice);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    }
}

}  // namespace rustun::etcd
