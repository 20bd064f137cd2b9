#include "routing/route_table.hpp"

#include <algorithm>
#include <cassert>

namespace rustun {

namespace {

// One route of a cluster: [start, end] -> client. Prefixes are either nested or disjoint.
struct Prefix {
    uint32_t start;  // network address (host bits cleared)
    uint8_t len;     // 0..32
    ClientId client;

    uint64_t end() const { return uint64_t{start} + (uint64_t{1} << (32 - len)) - 1; }
};

// Appends the disjoint ranges of one cluster to starts/owners. Sorting by (start, shorter
// first) puts every prefix after the prefixes that contain it, so a stack of open prefixes
// yields the longest match of every point. Ranges with the same owner are merged; every
// emitted range is non-empty, so starts are strictly increasing and the first one is 0.
void flatten(std::vector<Prefix>& prefixes, ClusterId cluster, std::vector<uint32_t>& starts,
             std::vector<ClientId>& owners, std::vector<RouteConflict>* conflicts) {
    std::sort(prefixes.begin(), prefixes.end(), [](const Prefix& a, const Prefix& b) {
        if (a.start != b.start) return a.start < b.start;
        if (a.len != b.len) return a.len < b.len;
        return a.client < b.client;
    });
    const size_t first = starts.size();
    auto emit = [&](uint64_t start, ClientId owner) {
        if (starts.size() > first && owners.back() == owner) return;
        starts.push_back(static_cast<uint32_t>(start));
        owners.push_back(owner);
    };

    std::vector<Prefix> open;  // nested prefixes containing the sweep position, outermost first
    uint64_t pos = 0;          // first address not yet assigned to a range
    auto close_until = [&](uint64_t limit) {  // closes the open prefixes that end before `limit`
        while (!open.empty() && open.back().end() < limit) {
            Prefix top = open.back();
            open.pop_back();
            if (pos <= top.end()) {
                emit(pos, top.client);
                pos = top.end() + 1;
            }
        }
    };

    const Prefix* prev = nullptr;
    for (const Prefix& p : prefixes) {
        if (prev != nullptr && prev->start == p.start && prev->len == p.len) {
            if (prev->client != p.client && conflicts != nullptr)
                conflicts->push_back(RouteConflict{cluster, Ipv4Cidr{Ipv4Addr{p.start}, p.len},
                                                   prev->client, p.client});
            continue;  // the first client (lowest id, i.e. config order) keeps the prefix
        }
        prev = &p;
        close_until(p.start);
        if (pos < p.start) {
            emit(pos, open.empty() ? kNoClient : open.back().client);
            pos = p.start;
        }
        open.push_back(p);
    }
    close_until(uint64_t{1} << 32);
    if (pos <= 0xFFFFFFFFu) emit(pos, kNoClient);
    assert(starts.size() > first && starts[first] == 0);
}

}  // namespace

size_t RouteTable::memory_bytes() const noexcept {
    return clusters_.capacity() * sizeof(ClusterSlot) + seg_start_.capacity() * sizeof(uint32_t) +
           seg_client_.capacity() * sizeof(ClientId) + clients_.capacity() * sizeof(ClientSlot) +
           cidrs_.capacity() * sizeof(CidrSlot);
}

ClusterId RouteTableBuilder::add_cluster() {
    cluster_first_client_.push_back(static_cast<uint32_t>(clients_.size()));
    return static_cast<ClusterId>(cluster_first_client_.size() - 1);
}

ClientId RouteTableBuilder::add_client(Ipv4Addr private_ip, std::span<const Ipv4Cidr> ciders) {
    assert(!cluster_first_client_.empty() && "add_cluster() must come first");
    clients_.push_back(PendingClient{private_ip, static_cast<uint32_t>(cidrs_.size()),
                                     static_cast<uint32_t>(ciders.size())});
    cidrs_.insert(cidrs_.end(), ciders.begin(), ciders.end());
    return static_cast<ClientId>(clients_.size() - 1);
}

RouteTable RouteTableBuilder::build(std::vector<RouteConflict>* conflicts) {
    RouteTable t;
    t.clusters_.reserve(cluster_first_client_.size());
    t.clients_.reserve(clients_.size());
    t.cidrs_.reserve(cidrs_.size());
    t.seg_start_.reserve(cluster_first_client_.size() + 2 * (clients_.size() + cidrs_.size()));
    t.seg_client_.reserve(t.seg_start_.capacity());

    std::vector<Prefix> prefixes;
    for (size_t ci = 0; ci < cluster_first_client_.size(); ++ci) {
        const auto cluster = static_cast<ClusterId>(ci);
        const uint32_t begin = cluster_first_client_[ci];
        const uint32_t end = ci + 1 < cluster_first_client_.size()
                                 ? cluster_first_client_[ci + 1]
                                 : static_cast<uint32_t>(clients_.size());
        prefixes.clear();
        for (uint32_t id = begin; id < end; ++id) {
            const PendingClient& pc = clients_[id];
            prefixes.push_back(Prefix{pc.private_ip.value, 32, id});
            t.clients_.push_back(RouteTable::ClientSlot{pc.private_ip.value,
                                                        static_cast<uint32_t>(t.cidrs_.size()),
                                                        pc.cidr_count, cluster});
            for (uint32_t k = 0; k < pc.cidr_count; ++k) {
                const Ipv4Cidr& c = cidrs_[pc.cidr_begin + k];
                prefixes.push_back(Prefix{c.network(), c.prefix_len, id});
                t.cidrs_.push_back(RouteTable::CidrSlot{c.network(), c.mask()});
            }
        }
        const auto seg_begin = static_cast<uint32_t>(t.seg_start_.size());
        flatten(prefixes, cluster, t.seg_start_, t.seg_client_, conflicts);
        t.clusters_.push_back(RouteTable::ClusterSlot{
            seg_begin, static_cast<uint32_t>(t.seg_start_.size()) - seg_begin, begin, end - begin});
    }
    t.seg_start_.shrink_to_fit();  // the reservation above is an upper bound
    t.seg_client_.shrink_to_fit();
    *this = RouteTableBuilder{};
    return t;
}

}  // namespace rustun
