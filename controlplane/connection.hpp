// One client TCP connection of the control plane.
//
// Ownership and threads: a connection belongs to the worker that accepted it. Only that worker
// reads the socket, runs its timers and closes the fd. Any thread may queue output: the output
// side (out, closed, want_write, over_limit_since) is guarded by out_mu, and the fd is closed
// only under out_mu with closed = true, so a writer on another thread never writes to a reused
// fd. The client binding (client, cluster, dialect) is guarded by the gateway's state mutex.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "crypto/cipher_key.hpp"
#include "out_queue.hpp"
#include "proto/dialect.hpp"
#include "routing/route_table.hpp"

namespace rustun {

using SteadyTime = std::chrono::steady_clock::time_point;

enum class CloseReason : uint8_t {
    None,
    PeerClosed,
    ReadError,
    WriteError,
    HandshakeTimeout,
    IdleTimeout,
    BadMagic,
    BadVersion,
    LengthRefused,
    DecryptFailed,
    BadJson,
    WrongFirstFrame,
    UnknownIdentity,
    Replaced,       // the same identity connected again
    Kicked,         // rustunctl kick, or removed/re-keyed by a reload
    SlowClient,     // output queue stayed full
    RateLimited,
    Shutdown,
    Evicted,           // the oldest connection without a Handshake, to admit a newer one
    FirstByteTimeout,  // not a byte within first_byte_timeout
    HandshakeReplay,   // a Handshake nonce already seen for that identity
};
const char* close_reason_name(CloseReason r);

struct Connection {
    // --- immutable after accept ---
    int fd = -1;
    uint64_t id = 0;       // unique per process, never reused
    uint32_t worker = 0;   // index of the owning worker
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

    // --- gateway state mutex ---
    ClientId client = kNoClient;
    ClusterId cluster = 0;
    Dialect dialect = Dialect::New;
    std::shared_ptr<const CipherKey> key;  // the cluster key this client authenticated with

    // --- any thread ---
    std::atomic<CloseReason> close_requested{CloseReason::None};

    // --- out_mu ---
    std::mutex out_mu;
    OutQueue out;
    bool closed = false;      // fd closed (or closing); nothing may be written
    bool want_write = false;  // EPOLLOUT armed
    bool dirty = false;       // queued output not yet flushed by the current batch
    SteadyTime over_limit_since{};  // first refusal since the queue last drained; zero if none
};

using ConnectionPtr = std::shared_ptr<Connection>;

}  // namespace rustun
