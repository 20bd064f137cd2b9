// Per-cluster IPv4 route table: (cluster, destination address) -> client, longest prefix wins.
//
// Layout (why it is fast): each cluster's prefixes (every client's private IP as a /32 plus its
// CIDRs) are flattened off-line into disjoint address ranges that cover 0.0.0.0..255.255.255.255.
// A cluster is one run in two flat arrays: `seg_start_` (sorted range starts, the first is 0) and
// `seg_client_` (the owner of each range, kNoClient for a gap). A lookup reads the cluster's
// 16-byte slot and does a branchless binary search over that run of uint32 starts (a cluster of
// 1000 clients with 2 CIDRs each has at most ~6000 ranges: 13 steps, all within a few KiB), then
// one load for the owner. No allocation, no locks, no syscalls, no writes: safe to call from any
// number of threads. 10k clusters x 10 clients (2 CIDRs each) take about 4.5 MiB.
//
// Immutable after build: an update builds a new table and the owner swaps a pointer to it (the
// control plane / dataplane do that). Liveness is not decided here: a lookup returns the client
// that owns the destination; whether it is connected is the caller's question.
//
// Deliberate difference from the reference (docs/protocol.md, "Relay routing"): the reference walks the *connected*
// clients in connection order and takes the first match; here the longest prefix wins (/32 beats
// /24 beats /16), independent of connection order. If two clients of one cluster claim the very
// same prefix, the one added first (config order) owns it and the build reports a RouteConflict.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "config/address.hpp"

namespace rustun {

using ClusterId = uint32_t;  // dense, 0..cluster_count()-1, in the order clusters were added
using ClientId = uint32_t;   // dense over all clusters, 0..client_count()-1, in the order added
inline constexpr ClientId kNoClient = std::numeric_limits<ClientId>::max();

class RouteTable {
public:
    RouteTable() = default;  // empty table: every lookup misses

    // The client of `cluster` that owns `dst` (host byte order), or kNoClient if none does or if
    // `cluster` is out of range. Only clients of `cluster` can be returned (tenant isolation).
    ClientId lookup(ClusterId cluster, uint32_t dst) const noexcept {
        if (cluster >= clusters_.size()) return kNoClient;
        const ClusterSlot& c = clusters_[cluster];
        const uint32_t* first = seg_start_.data() + c.seg_begin;
        // Invariant: first[0] == 0 <= dst and c.seg_count >= 1, so the answer (the last range
        // with start <= dst) lies in [base, base + n).
        const uint32_t* base = first;
        uint32_t n = c.seg_count;
        while (n > 1) {
            uint32_t half = n / 2;
            base = base[half] <= dst ? base + half : base;  // written for a cmov (g++ -O3 emits one)
            n -= half;
        }
        return seg_client_[c.seg_begin + static_cast<uint32_t>(base - first)];
    }

    // Source validation: true if `src` (host byte order) is `client`'s private IP or inside one
    // of its CIDRs (docs/protocol.md, "Inner source validation"; docs/architecture.md, "Security beyond the
    // reference"). False for an out-of-range client. Linear in the client's CIDRs.
    bool source_allowed(ClientId client, uint32_t src) const noexcept {
        if (client >= clients_.size()) return false;
        const ClientSlot& c = clients_[client];
        if (src == c.private_ip) return true;
        for (uint32_t i = c.cidr_begin, end = c.cidr_begin + c.cidr_count; i < end; ++i)
            if ((src & cidrs_[i].mask) == cidrs_[i].network) return true;
        return false;
    }

    // Cluster of `client`; precondition: client < client_count().
    ClusterId cluster_of(ClientId client) const noexcept { return clients_[client].cluster; }
    // Clients of a cluster are the contiguous ids [first_client, first_client + clients_in).
    // Precondition: cluster < cluster_count().
    ClientId first_client(ClusterId cluster) const noexcept {
        return clusters_[cluster].client_begin;
    }
    uint32_t clients_in(ClusterId cluster) const noexcept {
        return clusters_[cluster].client_count;
    }

    uint32_t cluster_count() const noexcept { return static_cast<uint32_t>(clusters_.size()); }
    uint32_t client_count() const noexcept { return static_cast<uint32_t>(clients_.size()); }
    size_t range_count() const noexcept { return seg_start_.size(); }
    size_t memory_bytes() const noexcept;

private:
    friend class RouteTableBuilder;

    struct ClusterSlot {
        uint32_t seg_begin;     // first range of the cluster in seg_start_/seg_client_
        uint32_t seg_count;     // >= 1 (the ranges cover the whole address space)
        ClientId client_begin;  // first client id of the cluster
        uint32_t client_count;
    };
    static_assert(sizeof(ClusterSlot) == 16);
    struct ClientSlot {
        uint32_t private_ip;
        uint32_t cidr_begin;  // index into cidrs_
        uint32_t cidr_count;
        ClusterId cluster;
    };
    struct CidrSlot {
        uint32_t network;  // address & mask (host bits cleared)
        uint32_t mask;
    };

    std::vector<ClusterSlot> clusters_;
    std::vector<uint32_t> seg_start_;   // per cluster: strictly increasing, first == 0
    std::vector<ClientId> seg_client_;  // owner of [seg_start_[i], next start - 1]
    std::vector<ClientSlot> clients_;
    std::vector<CidrSlot> cidrs_;
};

// Two clients of one cluster claimed the same prefix; `kept` (added first) owns it.
struct RouteConflict {
    ClusterId cluster;
    Ipv4Cidr prefix;  // host bits cleared
    ClientId kept;
    ClientId shadowed;
};

// Collects clusters and clients, then builds a RouteTable (off the hot path; allocates).
// Usage: for each cluster { add_cluster(); for each client add_client(...); } then build().
class RouteTableBuilder {
public:
    // Starts a new cluster; subsequent add_client() calls add to it. Returns its id.
    ClusterId add_cluster();
    // Adds a client to the most recent cluster (precondition: add_cluster() was called).
    // Its routes: private_ip/32 and every CIDR (host bits ignored). Returns its id.
    ClientId add_client(Ipv4Addr private_ip, std::span<const Ipv4Cidr> ciders);

    // Builds the table; the builder is left empty. Conflicts (if wanted) are appended to
    // `conflicts` so that the caller can log them.
    RouteTable build(std::vector<RouteConflict>* conflicts = nullptr);

private:
    struct PendingClient {
        Ipv4Addr private_ip;
        uint32_t cidr_begin;
        uint32_t cidr_count;
    };
    std::vector<uint32_t> cluster_first_client_;  // per cluster, index into clients_
    std::vector<PendingClient> clients_;
    std::vector<Ipv4Cidr> cidrs_;
};

}  // namespace rustun
