#include "admission.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace rustun::cp {

namespace {

bool v4_mapped(const in6_addr& a) {
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(a.s6_addr, prefix, sizeof prefix) == 0;
}

}  // namespace

std::string PendingSources::address_key(const sockaddr_storage& ss) {
    if (ss.ss_family == AF_INET) {
        auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
        return std::string(reinterpret_cast<const char*>(&a->sin_addr), 4);
    }
    auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (v4_mapped(a->sin6_addr)) return std::string(reinterpret_cast<const char*>(a->sin6_addr.s6_addr + 12), 4);
    return std::string(reinterpret_cast<const char*>(a->sin6_addr.s6_addr), 16);
}

std::string PendingSources::prefix6_key(const sockaddr_storage& ss) {
    if (ss.ss_family != AF_INET6) return {};
    auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (v4_mapped(a->sin6_addr)) return {};
    return std::string(reinterpret_cast<const char*>(a->sin6_addr.s6_addr), 8);
}

PendingSources::Admit PendingSources::admit(const sockaddr_storage& peer, uint32_t per_source, uint32_t per_prefix6) {
    std::string ak = address_key(peer), pk = prefix6_key(peer);
    auto a = by_addr_.find(ak);
    if (per_source != 0 && a != by_addr_.end() && a->second >= per_source) return Admit::SourceFull;
    if (!pk.empty()) {
        auto p = by_prefix_.find(pk);
        if (per_prefix6 != 0 && p != by_prefix_.end() && p->second >= per_prefix6) return Admit::PrefixFull;
        ++by_prefix_[pk];
    }
    if (a == by_addr_.end()) by_addr_.emplace(std::move(ak), 1);
    else ++a->second;
    return Admit::Ok;
}

void PendingSources::release(const sockaddr_storage& peer) {
    auto dec = [](std::unordered_map<std::string, uint32_t>& m, const std::string& k) {
        auto it = m.find(k);
        if (it == m.end()) return;
        if (--it->second == 0) m.erase(it);
    };
    dec(by_addr_, address_key(peer));
    std::string pk = prefix6_key(peer);
    if (!pk.empty()) dec(by_prefix_, pk);
}

uint32_t PendingSources::count_of_source(const sockaddr_storage& peer) const {
    auto it = by_addr_.find(address_key(peer));
    return it == by_addr_.end() ? 0 : it->second;
}

bool HandshakeNonces::seen(std::string_view identity, const Nonce& n) const {
    auto it = map_.find(std::string(identity));
    if (it == map_.end()) return false;
    const Ring& r = it->second;
    return std::find(r.n.begin(), r.n.begin() + r.count, n) != r.n.begin() + r.count;
}

void HandshakeNonces::record(std::string_view identity, const Nonce& n) {
    Ring& r = map_[std::string(identity)];
    r.n[r.next] = n;
    r.next = static_cast<uint8_t>((r.next + 1) % kPerIdentity);
    if (r.count < kPerIdentity) ++r.count;
}

}  // namespace rustun::cp
