// trial_authenticate(): who sent a frame that arrives before its sender is known, the first TCP
// frame (a Handshake) or a UDP KeepAlive punted by the dataplane. The one rule for both:
// the payload is opened with the membership's keys in order, and the body is accepted only if
// the identity it names belongs to the cluster whose key opened it (Membership::client_for;
// keys compared by value, clusters may share one) — the identity alone decides the cluster.
//
// Hints (docs/controlplane.md, "Authentication cost"): the candidate keys of a TrialHints are
// tried first, then every other key of the membership; no key is tried twice, so a frame costs
// at most one decryption per distinct key, hinted or not, and a hint only changes the order.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "crypto/crypto_engine.hpp"
#include "counters.hpp"
#include "crypto/key_hint.hpp"
#include "membership.hpp"
#include "net/trial_open.hpp"

namespace rustun::cp {

enum class TrialOutcome : uint8_t {
    Accepted,         // body, key_index and client are set
    UnknownIdentity,  // a key opened it into a body naming a (non-empty) identity not of that key's cluster
    NotParsed,        // an AEAD key authenticated it, or some key opened it, but no body decoded
    NotOpened,        // no key authenticates it
};

template <class Body>
struct TrialAuth {
    TrialOutcome outcome = TrialOutcome::NotOpened;
    Body body{};
    size_t key_index = 0;  // index in the keys tried (the hinted overload: in Membership::auth.keys)
    ClientId client = kNoClient;
    std::string refused_identity;  // UnknownIdentity: the first identity refused
    bool by_hint = false;          // accepted by one of the hinted keys
    uint32_t opens = 0;            // decryptions attempted
};

// Candidate keys (indices in Membership::auth.keys), in the order they are tried; duplicates and
// more than kMax are ignored.
struct TrialHints {
    static constexpr uint32_t kMax = 8;
    std::array<uint32_t, kMax> idx{};
    uint32_t n = 0;
    bool has(uint32_t i) const {
        for (uint32_t k = 0; k < n; ++k)
            if (idx[k] == i) return true;
        return false;
    }
    void add(uint32_t i) {
        if (n < kMax && !has(i)) idx[n++] = i;
    }
};

// The hint a frame carries itself: the key-hint tag at the start of an AEAD nonce
// (crypto/key_hint.hpp). Every payload has such bytes; a reference client's random nonce matches
// some key's tag by chance only (that key is then tried first, in vain).
inline void add_tag_hints(const AuthKeys& a, const uint8_t* payload, uint32_t len, TrialHints& h) {
    if (len < kAeadOverhead || a.by_tag.empty()) return;
    a.for_tag(key_hint_of_payload(payload), [&](uint32_t i) { h.add(i); });
}

namespace detail {
// One pass of a trial over `keys` (minus those `skip` names), accumulating into `trace`; true if a
// key opened a body whose identity is of that key's cluster (r.body, r.key_index, r.client set).
template <class R, class Decode, class Skip>
bool trial_pass(R& r, TrialTrace& trace, const Membership& m, std::span<const CipherKey* const> keys,
                CryptoEngine& eng, const uint8_t* payload, uint32_t len, uint8_t* out, Decode& decode, Skip&& skip) {
    auto accept = [&](const auto& body, size_t k) {
        r.client = m.client_for(body.identity, *keys[k]);
        if (r.client == kNoClient && r.refused_identity.empty()) r.refused_identity = body.identity;
        return r.client != kNoClient;
    };
    auto opened = trial_open(keys, eng, payload, len, out, decode, accept, trace, skip);
    r.opens = trace.opens;
    if (!opened) return false;
    r.outcome = TrialOutcome::Accepted;
    r.body = std::move(opened->first);
    r.key_index = opened->second;
    return true;
}

template <class R>
void set_refusal(R& r, const TrialTrace& trace) {
    r.client = kNoClient;
    // An empty identity refused counts as a body that does not parse (nothing to name).
    r.outcome = !r.refused_identity.empty()         ? TrialOutcome::UnknownIdentity
                : trace.aead_opened || trace.parsed ? TrialOutcome::NotParsed
                                                    : TrialOutcome::NotOpened;
}
}  // namespace detail

// Opens `payload[0..len)` into `out` with `keys` in order; `decode(plaintext)` returns the
// Result of the body (Handshake, KeepAlive). Only the configured part of `m` is read, so a
// caller may use a generation it holds without the state mutex (the punt path does).
template <class Decode>
auto trial_authenticate(const Membership& m, std::span<const CipherKey* const> keys, CryptoEngine& eng,
                        const uint8_t* payload, uint32_t len, uint8_t* out, Decode&& decode)
    -> TrialAuth<std::decay_t<decltype(*decode(std::string_view()))>> {
    TrialAuth<std::decay_t<decltype(*decode(std::string_view()))>> r;
    TrialTrace trace;
    if (!detail::trial_pass(r, trace, m, keys, eng, payload, len, out, decode, [](size_t) { return false; }))
        detail::set_refusal(r, trace);
    return r;
}

// The same over all of `m`'s keys (m.auth.keys), the hinted ones first and none twice. key_index
// is an index in m.auth.keys.
template <class Decode>
auto trial_authenticate(const Membership& m, const TrialHints& hints, CryptoEngine& eng, const uint8_t* payload,
                        uint32_t len, uint8_t* out, Decode&& decode)
    -> TrialAuth<std::decay_t<decltype(*decode(std::string_view()))>> {
    TrialAuth<std::decay_t<decltype(*decode(std::string_view()))>> r;
    const std::vector<const CipherKey*>& all = m.auth.keys;
    std::array<const CipherKey*, TrialHints::kMax> hinted{};
    for (uint32_t i = 0; i < hints.n; ++i) hinted[i] = hints.idx[i] < all.size() ? all[hints.idx[i]] : nullptr;
    TrialTrace trace;
    if (detail::trial_pass(r, trace, m, std::span<const CipherKey* const>(hinted.data(), hints.n), eng, payload, len,
                           out, decode, [](size_t) { return false; })) {
        r.key_index = hints.idx[r.key_index];
        r.by_hint = true;
        return r;
    }
    if (!detail::trial_pass(r, trace, m, std::span<const CipherKey* const>(all), eng, payload, len, out, decode,
                            [&](size_t i) { return hints.has(static_cast<uint32_t>(i)); }))
        detail::set_refusal(r, trace);
    return r;
}

// Counts a hinted trial: auth_trial_opens, and one of auth_hint_hit / _miss / auth_no_hint.
template <class T>
void count_trial(CounterBlock& c, const T& t, const TrialHints& hints) {
    c.inc(Counter::auth_trial_opens, t.opens);
    c.inc(t.by_hint ? Counter::auth_hint_hit : hints.n ? Counter::auth_hint_miss : Counter::auth_no_hint);
}

}  // namespace rustun::cp
