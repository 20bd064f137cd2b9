// One client TCP connection of the control plane.
//
// Ownership and threads: a connection belongs to the worker that accepted it. Only that worker
// reads the socket, runs its timers and closes the fd. Any thread may queue output: the output
// side (out, closed, want_write, over_limit_since) is guarded by out_mu, and the fd is closed
// only under out_mu with closed = true, so a writer on another thread never writes to a reused
// fd. The client binding (client, cluster, dialect, key) is written under the state mutex
// (SharedState::mu()): a reload rebinds `client` and `cluster` (relaxed atomics: the owning
// worker's TCP relay reads `client` without the mutex, controlplane/relay_view.hpp); `dialect`
// and `key` are written only by the owning worker (under the mutex), which may read them without.
#pragma once

#include "relay_view.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "close_reason.hpp"
#include "crypto/cipher_key.hpp"
#include "out_queue.hpp"
#include "proto/dialect.hpp"
#include "routing/route_table.hpp"
#include "thread_annotations.hpp"

namespace rustun::cp {

using SteadyTime = std::chrono::steady_clock::time_point;

struct Connection;
using ConnectionPtr = std::shared_ptr<Connection>;

// What the worker that owns a connection offers to every other thread.
class ConnectionOwner {
public:
    // Queues a close request; the owner closes the connection in its next turn. Any thread.
    virtual void request_close(const ConnectionPtr& c, CloseReason reason) = 0;
    // The owner's epoll set (output side: EPOLLOUT armed while a queue cannot drain).
    virtual int epoll_fd() const = 0;

protected:
    ~ConnectionOwner() = default;
};

struct Connection {
    // --- immutable after accept ---
    int fd = -1;
    uint64_t id = 0;       // unique per process, never reused
    ConnectionOwner* owner = nullptr;  // the worker that accepted it
    sockaddr_storage peer{};
    std::string peer_text;  // "a.b.c.d:port" or "[v6]:port"
    SteadyTime accepted_at;

    // --- owning worker only ---
    bool established = false;  // a valid Handshake was accepted
    SteadyTime last_rx;        // last authenticated frame received (the idle timer)
    bool got_bytes = false;    // at least one byte was read (the first-byte timer)
    uint8_t* pending = nullptr;  // BlockPool block with a partial frame, or null
    size_t pending_len = 0;
    bool in_epoll = false;

    // --- written under the gateway state mutex ---
    RelayValue<ClientId> client{kNoClient};
    RelayValue<ClusterId> cluster{0};
    Dialect dialect = Dialect::New;
    std::shared_ptr<const CipherKey> key;  // the cluster key this client authenticated with

    // --- any thread ---
    std::atomic<CloseReason> close_requested{CloseReason::None};

    // --- out_mu ---
    Mutex out_mu;
    OutQueue out GUARDED_BY(out_mu);
    bool closed GUARDED_BY(out_mu) = false;      // fd closed (or closing); nothing may be written
    bool want_write GUARDED_BY(out_mu) = false;  // EPOLLOUT armed
    bool dirty GUARDED_BY(out_mu) = false;       // queued output not yet flushed by the current batch
    SteadyTime over_limit_since GUARDED_BY(out_mu){};  // first refusal since the queue last drained; zero if none
};

// Asks the worker that owns `c` to close it (any thread; `c` may be another worker's).
inline void ask_owner_to_close(const ConnectionPtr& c, CloseReason reason) {
    c->close_requested.store(reason);
    c->owner->request_close(c, reason);
}

}  // namespace rustun::cp
