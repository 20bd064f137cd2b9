// Defences of the TCP listener against cheap denial of service (docs/controlplane.md,
// "Connections without a Handshake" and "Handshake replay"):
//
//  * PendingSources counts, per worker, the connections still waiting for their Handshake by
//    source IP address and by IPv6 /64, so that a few addresses cannot hold every slot.
//  * HandshakeNonces remembers the AEAD nonces of the latest accepted Handshakes of each
//    identity: a Handshake is one fresh random nonce, so a nonce seen again is a replay of
//    captured bytes and must not replace the identity's live session.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace rustun::cp {

class PendingSources {
public:
    enum class Admit : uint8_t { Ok, SourceFull, PrefixFull };

    // Counts a new connection from `peer` unless its address already has `per_source` waiting
    // connections or (IPv6 only) its /64 has `per_prefix6`; 0 = no limit. IPv4-mapped IPv6
    // addresses count as IPv4.
    Admit admit(const sockaddr_storage& peer, uint32_t per_source, uint32_t per_prefix6);
    // Forgets one connection counted by admit().
    void release(const sockaddr_storage& peer);

    uint32_t count_of_source(const sockaddr_storage& peer) const;
    // Distinct addresses / prefixes currently counted (bounded by the waiting connections).
    size_t sources() const { return by_addr_.size(); }
    size_t prefixes() const { return by_prefix_.size(); }

    // The source-address key (4 or 16 bytes) and, for IPv6, the /64 key (8 bytes; empty for IPv4).
    static std::string address_key(const sockaddr_storage& peer);
    static std::string prefix6_key(const sockaddr_storage& peer);

private:
    std::unordered_map<std::string, uint32_t> by_addr_, by_prefix_;
};

class HandshakeNonces {
public:
    // Nonces remembered per identity: the latest kPerIdentity accepted Handshakes.
    static constexpr size_t kPerIdentity = 32;
    static constexpr size_t kNonceSize = 12;  // the AEAD nonce in front of every payload
    using Nonce = std::array<uint8_t, kNonceSize>;

    bool seen(std::string_view identity, const Nonce& n) const;
    void record(std::string_view identity, const Nonce& n);
    // Drops the identities for which keep(identity) is false (a reload: identities no longer
    // configured), so memory stays bounded by the configured identities.
    template <class Keep>
    void retain(Keep keep) {
        for (auto it = map_.begin(); it != map_.end();) {
            if (keep(it->first)) ++it;
            else it = map_.erase(it);
        }
    }
    // Forgets one identity (a reload removed it): O(1), unlike retain().
    void forget(const std::string& identity) { map_.erase(identity); }
    size_t identities() const { return map_.size(); }

private:
    struct Ring {
        std::array<Nonce, kPerIdentity> n{};
        uint8_t count = 0, next = 0;
    };
    std::unordered_map<std::string, Ring> map_;
};

}  // namespace rustun::cp
