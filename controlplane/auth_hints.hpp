// Source-address hints (docs/controlplane.md, "Authentication cost"): which cluster keys
// authenticated frames from an IP address lately, so that the next Handshake from there (a
// reconnect) or a UDP KeepAlive from there (the TCP session's address is usually the UDP
// binding's too) tries those keys first.
//
// Only successful authentications are learnt (nobody without a key can plant a hint), at most
// kKeysPerAddress keys per address (the most recent first: clients of a few clusters behind one
// NAT), at most `max_addresses` addresses (beyond that an arbitrary entry is forgotten). Entries
// carry the membership generation they were learnt in (AuthKeys::generation): after a reload the
// indices mean nothing and are ignored. A hint only orders the trial: the key must still open the
// frame and the identity must still be of that key's cluster.
//
// Shared by the workers and the dataplane link; its own mutex, held for a hash lookup only.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>

#include "shm/channel_layout.hpp"
#include "thread_annotations.hpp"

namespace rustun::cp {

// An IP address as a map key: family byte + 16 address bytes (IPv4 in the first 4; IPv4-mapped
// IPv6 counts as IPv4, as the dataplane and the admission limits do).
struct AddrKey {
    std::array<uint8_t, 17> b{};
    bool operator==(const AddrKey&) const = default;
    static AddrKey of(const sockaddr_storage& sa);
    static AddrKey of(const shm::Endpoint& ep);
};

struct AddrKeyHash {
    size_t operator()(const AddrKey& k) const noexcept;
};

class AuthHints {
public:
    static constexpr size_t kKeysPerAddress = 4;
    struct Keys {
        std::array<uint32_t, kKeysPerAddress> idx{};
        uint32_t n = 0;
    };

    explicit AuthHints(size_t max_addresses = size_t{1} << 20) : max_(max_addresses) {}

    // The keys (indices of generation `gen`) that authenticated from `a` lately, most recent first.
    Keys lookup(const AddrKey& a, uint64_t gen) const EXCLUDES(mu_);
    // Key `key` of generation `gen` just authenticated a frame from `a`.
    void learn(const AddrKey& a, uint64_t gen, uint32_t key) EXCLUDES(mu_);
    size_t size() const EXCLUDES(mu_);

private:
    struct Entry {
        uint64_t gen = 0;
        Keys keys;
    };
    const size_t max_;
    mutable Mutex mu_;
    std::unordered_map<AddrKey, Entry, AddrKeyHash> map_ GUARDED_BY(mu_);
};

}  // namespace rustun::cp
