// trial_authenticate(): who sent a frame that arrives before its sender is known, the first TCP
// frame (a Handshake) or a UDP KeepAlive punted by the dataplane. The one rule for both:
// the payload is opened with the membership's keys in order, and the body is accepted only if
// the identity it names belongs to the cluster whose key opened it (Membership::client_for;
// keys compared by value, clusters may share one) — the identity alone decides the cluster.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "crypto/crypto_engine.hpp"
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
    size_t key_index = 0;
    ClientId client = kNoClient;
    std::string refused_identity;  // UnknownIdentity: the first identity refused
};

// Opens `payload[0..len)` into `out` with `keys` in order; `decode(plaintext)` returns the
// Result of the body (Handshake, KeepAlive). Only the configured part of `m` is read, so a
// caller may use a generation it holds without the state mutex (the punt path does).
template <class Decode>
auto trial_authenticate(const Membership& m, std::span<const CipherKey* const> keys, CryptoEngine& eng,
                        const uint8_t* payload, uint32_t len, uint8_t* out, Decode&& decode)
    -> TrialAuth<std::decay_t<decltype(*decode(std::string_view()))>> {
    TrialAuth<std::decay_t<decltype(*decode(std::string_view()))>> r;
    TrialTrace trace;
    auto accept = [&](const auto& body, size_t k) {
        r.client = m.client_for(body.identity, *keys[k]);
        if (r.client == kNoClient && r.refused_identity.empty()) r.refused_identity = body.identity;
        return r.client != kNoClient;
    };
    auto opened = trial_open(keys, eng, payload, len, out, decode, accept, trace);
    if (opened) {
        r.outcome = TrialOutcome::Accepted;
        r.body = std::move(opened->first);
        r.key_index = opened->second;
        return r;
    }
    r.client = kNoClient;
    // An empty identity refused counts as a body that does not parse (nothing to name).
    r.outcome = !r.refused_identity.empty()         ? TrialOutcome::UnknownIdentity
                : trace.aead_opened || trace.parsed ? TrialOutcome::NotParsed
                                                    : TrialOutcome::NotOpened;
    return r;
}

}  // namespace rustun::cp
