// The inter-gateway link of a fleet (docs/fleet.md, "Link"): relays a Rustun frame, its bytes
// unchanged, to the gateway a client is homed on, and delivers the frames other gateways relay
// to our clients.
//
// Sending: a worker's TCP relay (or the dataplane link's UDP→TCP hand-over) finds that a
// destination of its sender's cluster is not online here; FleetDirectory names its home gateway;
// the worker's FleetLink::Sender seals the frame (lib/fleet: header, fleet-key AEAD tag, 64-bit
// sequence) into that gateway's bounded output buffer and, once per batch, writes the buffer on
// the peer's TCP connection itself (non-blocking, under the peer's mutex). The link thread opens
// that connection on demand, re-opens it with back-off and writes what a full socket left over
// (EPOLLOUT). Nothing waits for a peer: a full buffer, an unknown gateway, a peer that cannot be
// reached are named drops (controlplane/counters.hpp, `fleet_link_*`).
//
// Receiving: the link thread accepts connections on `fleet.link.listen`, reads length-prefixed
// link frames, verifies each (fleet key, sender a member of the fleet per FleetDirectory, the
// sender's replay window) and delivers the relayed frame like a relayed Data frame: to the
// destination's live UDP binding through the dataplane's TX ring, else its TCP connection.
//
// Threads: send() and relay() from any thread, a Sender from the one thread that owns it;
// everything else on the link's own thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "counters.hpp"
#include "shared_state.hpp"
#include "thread_annotations.hpp"
#include "util/result.hpp"

namespace rustun::cp {

class DataplaneLink;
struct LinkPeer;

// What the link needs of the fleet's membership (FleetView, controlplane/fleet_view.hpp, provides
// it). Called from any thread without the state mutex; must not block on etcd.
class FleetDirectory {
public:
    virtual ~FleetDirectory() = default;
    // True, with `gateway_id` set (its buffer reused: no allocation per frame once warm), if the
    // client `identity` of cluster `cluster` is online on another gateway of the fleet; false if
    // it is not online elsewhere (or unknown).
    virtual bool home_gateway(std::string_view cluster, std::string_view identity, std::string& gateway_id) const = 0;
    // The link address ("host:port", IPv6 as "[addr]:port") of fleet member `gateway_id`;
    // nullopt if it is not a member (link frames from it are refused, none are sent to it).
    virtual std::optional<std::string> link_address(std::string_view gateway_id) const = 0;
};

struct FleetLinkOptions {
    std::string gateway_id;          // fleet.gateway_id: ours, the sender id of our frames
    std::string listen;              // fleet.link.listen, "host:port" (port 0: any, tests)
    std::string key;                 // fleet.link.key, a cipher spec: "aes256:..." or "chacha20:..."
    size_t peer_queue_bytes = 4u << 20;  // per peer: frames waiting for its connection
    uint32_t max_inbound = 256;      // inbound link connections open at once
    uint32_t backoff_min_ms = 100;   // reconnect back-off: doubles per failure up to the max
    uint32_t backoff_max_ms = 5000;
};

// The options of the `fleet:` section (gateway_id, link.listen, link.key); the bounds keep their
// defaults.
FleetLinkOptions fleet_link_options(const FleetConfig& fleet);

// Where a relayed frame goes on the home gateway: the cluster (by name: the configuration is the
// same on every gateway) and the client, by private IPv4 (host order, 0 = none) and/or identity.
struct LinkDestination {
    std::string_view cluster;
    uint32_t private_ip = 0;
    std::string_view identity;
};

class FleetLink {
public:
    // Validates the options (the key must be an AEAD cipher spec; `listen` an address): errors
    // name the key (`fleet.link.key: ...`). `dataplane` may be null (TCP delivery only).
    static Result<std::unique_ptr<FleetLink>> create(SharedState& state, const FleetDirectory& directory,
                                                     FleetLinkOptions options, DataplaneLink* dataplane);
    ~FleetLink();
    FleetLink(const FleetLink&) = delete;
    FleetLink& operator=(const FleetLink&) = delete;

    // Binds the listener and starts the link thread.
    Status start();
    void stop();

    // Queues `frame` (exactly one Rustun frame, sent unchanged) for the gateway `gateway_id`, to
    // be delivered there to `dst`. Any thread; never blocks on the network. False if dropped,
    // counted in `counters` by reason (fleet_link_unknown_gateway, fleet_link_queue_full, ...).
    bool send(std::string_view gateway_id, const LinkDestination& dst, std::span<const uint8_t> frame,
              CounterBlock& counters);

    // The TCP relay's hand-over (workers, the dataplane link): if the client `identity` of
    // `cluster` (private IPv4 `private_ip`, host order) is online on another gateway, queues
    // `frame` for it (send()). NotRemote: it is not (the caller drops it as offline).
    enum class Relay : uint8_t { NotRemote, Queued, Dropped };
    Relay relay(std::string_view cluster, std::string_view identity, uint32_t private_ip,
                std::span<const uint8_t> frame, CounterBlock& counters);

    // A sending thread's own sealing state (a worker makes one): relay() seals each frame in the
    // caller's thread straight into its home gateway's output buffer; flush(), once per batch,
    // writes the buffers it touched. Frames are lost (counted) only as with send().
    class Sender {
    public:
        ~Sender();
        Sender(const Sender&) = delete;
        Sender& operator=(const Sender&) = delete;
        // As FleetLink::relay(), but the frame is written only by flush() (or the link thread).
        Relay relay(std::string_view cluster, std::string_view identity, uint32_t private_ip,
                    std::span<const uint8_t> frame, CounterBlock& counters);
        // Writes what relay() sealed since the last flush() on the connections that are up; wakes
        // the link thread for the others.
        void flush(CounterBlock& counters);

    private:
        friend class FleetLink;
        struct State;
        explicit Sender(std::unique_ptr<State> st);
        std::unique_ptr<State> st_;
    };
    // One per sending thread; null with an error if IPsec-MB cannot give it a manager.
    Result<std::unique_ptr<Sender>> make_sender();

    // The bound link port (useful with port 0).
    uint16_t listen_port() const;
    // Written by the link thread only; any thread reads.
    const CounterBlock& counters() const;

    struct Impl;

private:
    explicit FleetLink(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace rustun::cp
