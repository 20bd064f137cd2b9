#include "auth_hints.hpp"

#include <netinet/in.h>

#include "crypto/rr_cookie.hpp"  // siphash24

namespace rustun::cp {

namespace {
// A fixed hash key: the table is filled only by authenticated senders, so an attacker cannot
// choose its keys to collide.
constexpr uint8_t kHashKey[16] = {'r', 'u', 's', 't', 'u', 'n', '-', 'a', 'u', 't', 'h', '-', 'h', 'i', 'n', 't'};
const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
}  // namespace

AddrKey AddrKey::of(const sockaddr_storage& sa) {
    AddrKey k;
    if (sa.ss_family == AF_INET) {
        k.b[0] = 4;
        std::memcpy(&k.b[1], &reinterpret_cast<const sockaddr_in&>(sa).sin_addr, 4);
    } else if (sa.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6&>(sa).sin6_addr.s6_addr;
        if (std::memcmp(a, kMapped, 12) == 0) {
            k.b[0] = 4;
            std::memcpy(&k.b[1], a + 12, 4);
        } else {
            k.b[0] = 6;
            std::memcpy(&k.b[1], a, 16);
        }
    }
    return k;
}

AddrKey AddrKey::of(const shm::Endpoint& ep) {
    AddrKey k;
    if (ep.family == 4) {
        k.b[0] = 4;
        std::memcpy(&k.b[1], ep.addr, 4);
    } else if (ep.family == 6) {
        if (std::memcmp(ep.addr, kMapped, 12) == 0) {
            k.b[0] = 4;
            std::memcpy(&k.b[1], ep.addr + 12, 4);
        } else {
            k.b[0] = 6;
            std::memcpy(&k.b[1], ep.addr, 16);
        }
    }
    return k;
}

size_t AddrKeyHash::operator()(const AddrKey& k) const noexcept {
    return static_cast<size_t>(siphash24(kHashKey, k.b.data(), k.b.size()));
}

AuthHints::Keys AuthHints::lookup(const AddrKey& a, uint64_t gen) const {
    MutexLock lk(mu_);
    auto it = map_.find(a);
    if (it == map_.end() || it->second.gen != gen) return {};
    return it->second.keys;
}

void AuthHints::learn(const AddrKey& a, uint64_t gen, uint32_t key) {
    MutexLock lk(mu_);
    auto it = map_.find(a);
    if (it == map_.end()) {
        if (map_.size() >= max_ && !map_.empty()) map_.erase(map_.begin());  // an arbitrary one
        it = map_.emplace(a, Entry{}).first;
    }
    Entry& e = it->second;
    if (e.gen != gen) e = Entry{gen, {}};
    // Move `key` to the front (most recent first), keeping the others' order.
    uint32_t pos = e.keys.n;
    for (uint32_t i = 0; i < e.keys.n; ++i)
        if (e.keys.idx[i] == key) pos = i;
    if (pos == e.keys.n && e.keys.n < kKeysPerAddress) ++e.keys.n;
    if (pos == kKeysPerAddress) pos = kKeysPerAddress - 1;  // full: the oldest goes
    for (uint32_t i = pos; i > 0; --i) e.keys.idx[i] = e.keys.idx[i - 1];
    e.keys.idx[0] = key;
}

size_t AuthHints::size() const {
    MutexLock lk(mu_);
    return map_.size();
}

}  // namespace rustun::cp
