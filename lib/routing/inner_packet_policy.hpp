// The one policy for a decrypted Data frame's inner packet, applied by both planes (the control
// plane's TCP relay in controlplane/worker.cpp, the dataplane's UDP relay in dataplane/worker.cpp)
// before anything is forwarded:
//   1. it is IPv4: at least a 20-byte header and version 4 (options and the total length field
//      are not checked: the packet is relayed as the sender wrote it);
//   2. its source is the sender's private IP or inside one of its CIDRs (no spoofing);
//   3. its destination is owned by a client of the sender's cluster (longest prefix wins; never
//      across clusters).
// The first failing check decides. Liveness of the destination is not decided here (each plane
// knows its own paths). Inline: it runs per relayed packet on the dataplane's workers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "routing/route_table.hpp"
#include "util/endian.hpp"

namespace rustun {

inline constexpr size_t kIpv4HeaderMin = 20;  // bytes

enum class InnerVerdict : uint8_t {
    Forward,        // `dst` is the destination client (same cluster as the sender)
    NotIpv4,        // shorter than an IPv4 header, or version != 4
    SpoofedSource,  // source address not the sender's (private IP or CIDRs)
    NoRoute,        // no client of the sender's cluster owns the destination
    CrossCluster,   // only with `any_cluster`: no client of the sender's cluster owns the
                    // destination, but a client of another cluster does (still never forwarded)
};

struct InnerDecision {
    InnerVerdict verdict;
    ClientId dst;  // valid for Forward, kNoClient otherwise
};

// `routes`: the table the sender `src_client` (of cluster `src_cluster`) is routed in.
// `any_cluster` (optional): every cluster's prefixes merged into cluster 0, consulted only after a
// miss to tell CrossCluster from NoRoute; nullptr reports every miss as NoRoute.
inline InnerDecision route_inner_packet(const RouteTable& routes, ClientId src_client, ClusterId src_cluster,
                                        const uint8_t* pkt, size_t len,
                                        const RouteTable* any_cluster = nullptr) noexcept {
    if (len < kIpv4HeaderMin || (pkt[0] >> 4) != 4) return {InnerVerdict::NotIpv4, kNoClient};
    if (!routes.source_allowed(src_client, load_be32(pkt + 12))) return {InnerVerdict::SpoofedSource, kNoClient};
    const uint32_t dst_ip = load_be32(pkt + 16);
    const ClientId dst = routes.lookup(src_cluster, dst_ip);
    if (dst != kNoClient) return {InnerVerdict::Forward, dst};
    // Slow path, misses only: another tenant's address, or nobody's.
    if (any_cluster && any_cluster->lookup(0, dst_ip) != kNoClient) return {InnerVerdict::CrossCluster, kNoClient};
    return {InnerVerdict::NoRoute, kNoClient};
}

// "forward", "not_ipv4", "spoofed_source", "no_route", "cross_cluster" (logs, tests).
const char* inner_verdict_name(InnerVerdict v) noexcept;

}  // namespace rustun
