// A worker's control frames: the Handshake that establishes a connection, and KeepAlives
// (docs/controlplane.md, "What it does on the wire").
#include <cstring>

#include "proto/dialect.hpp"
#include "trial_auth.hpp"
#include "util/clock.hpp"
#include "util/log.hpp"
#include "worker.hpp"

namespace rustun::cp {

bool Worker::handle_handshake(const ConnectionPtr& c, const FrameHeader& h, uint8_t* payload) {
    if (h.frame_type() != FrameType::Handshake) {
        counters_.inc(Counter::handshake_wrong_type);
        LOG_LIMITED(LogLevel::Warn, "%s: first frame is %s, not a Handshake: closing", c->peer_text.c_str(),
                    std::string(frame_type_name(h.frame_type())).c_str());
        close_conn(c, CloseReason::WrongFirstFrame);
        return false;
    }
    uint8_t* pt = pt_arena_.get() + (payload - arena_.get());
    // The trial runs outside the state mutex (a flood of garbage Handshakes must not stall the
    // other workers' relaying): on the generation current now, re-checked under the mutex below.
    std::shared_ptr<Membership> snap;
    {
        MutexLock lk(state_.mu());
        snap = state_.hold_members();
    }
    // Hints, in order: the key tag of the nonce (our clients), then the keys that authenticated
    // from this address lately (reconnects). docs/controlplane.md, "Authentication cost".
    const AddrKey src = AddrKey::of(c->peer);
    TrialHints hints;
    add_tag_hints(snap->auth, payload, h.payload_length, hints);
    const AuthHints::Keys learnt = state_.auth_hints().lookup(src, snap->auth.generation);
    for (uint32_t i = 0; i < learnt.n; ++i) hints.add(learnt.idx[i]);
    auto t = trial_authenticate(*snap, hints, *engine_, payload, h.payload_length, pt,
                                [](std::string_view body) { return decode_handshake(body); });
    count_trial(counters_, t, hints);
    std::string refused;
    TrialOutcome outcome = t.outcome;
    if (outcome == TrialOutcome::Accepted) {
        const CipherKey& key = *snap->auth.keys[t.key_index];
        bool id_accepted = false;
        {
            MutexLock lk(state_.mu());
            // A reload between the two locks may have removed or re-keyed the identity.
            const ClientId id = state_.members().client_for(t.body.identity, key);
            if (id == kNoClient) {
                outcome = TrialOutcome::UnknownIdentity;
            } else if (!handshake_replayed(id, h, payload, key)) {
                accept_handshake(c, h, id, t.body);
                id_accepted = true;
            }
        }
        if (id_accepted) {
            state_.auth_hints().learn(src, snap->auth.generation, static_cast<uint32_t>(t.key_index));
            return true;
        }
        refused = std::move(t.body.identity);
    } else {
        refused = std::move(t.refused_identity);
    }
    if (outcome == TrialOutcome::Accepted) {
        LOG_LIMITED(LogLevel::Warn, "%s: replayed Handshake of '%s' refused: closing", c->peer_text.c_str(),
                    refused.c_str());
        close_conn(c, CloseReason::HandshakeReplay);
        return false;
    }
    CloseReason reason;
    if (outcome == TrialOutcome::UnknownIdentity) {
        counters_.inc(Counter::handshake_unknown_identity);
        LOG_LIMITED_F(LogLevel::Warn, log_fields("IDENTITY", refused, "ENDPOINT", c->peer_text),
                      "%s: unknown identity '%s': closing", c->peer_text.c_str(), refused.c_str());
        reason = CloseReason::UnknownIdentity;
    } else if (outcome == TrialOutcome::NotParsed) {
        counters_.inc(Counter::handshake_bad_json);
        LOG_LIMITED(LogLevel::Warn, "%s: Handshake body does not parse: closing", c->peer_text.c_str());
        reason = CloseReason::BadJson;
    } else {
        counters_.inc(Counter::handshake_decrypt_failed);
        LOG_LIMITED(LogLevel::Warn, "%s: no cluster key decrypts the Handshake: closing", c->peer_text.c_str());
        reason = CloseReason::DecryptFailed;
    }
    close_conn(c, reason);
    return false;
}

bool Worker::handshake_replayed(ClientId id, const FrameHeader& h, const uint8_t* payload, const CipherKey& key) {
    // An AEAD payload starts with a fresh random nonce: one already seen for this identity
    // means replayed bytes. Refused before anything happens to the identity's live session.
    if (!key.is_aead() || h.payload_length < HandshakeNonces::kNonceSize) return false;
    const std::string& identity = state_.members().clients[id].cfg.identity;
    HandshakeNonces::Nonce nonce;
    std::memcpy(nonce.data(), payload, nonce.size());
    if (state_.handshake_nonces().seen(identity, nonce)) return true;
    state_.handshake_nonces().record(identity, nonce);
    return false;
}

void Worker::accept_handshake(const ConnectionPtr& c, const FrameHeader& h, ClientId id, const Handshake& hs) {
    Membership& m = state_.members();
    ClientEntry& e = m.clients[id];
    if (e.rt.conn && e.rt.conn != c) {
        LOG_DEBUG_F(log_fields("IDENTITY", e.cfg.identity, "ENDPOINT", c->peer_text),
                   "%s: identity '%s' connected again from %s: closing the older connection",
                 e.rt.conn->peer_text.c_str(), e.cfg.identity.c_str(), c->peer_text.c_str());
        ask_owner_to_close(e.rt.conn, CloseReason::Replaced);  // perhaps another worker's
    }
    reset_runtime(e.rt);
    e.rt.conn = c;
    e.rt.dialect = detect_dialect(hs);
    e.rt.handshake_ipv6 = hs.ipv6;
    e.rt.last_active = e.rt.connected_since = realtime_s();
    e.rt.epoch_us = realtime_us();
    state_.fleet_changed(e.cfg.identity);  // publish the record, take ownership in the fleet
    c->client = id;
    c->cluster = e.cluster;
    c->dialect = e.rt.dialect;
    c->key = m.clusters[e.cluster].key;  // the identity's own cluster's key object
    leave_pending(*c);
    c->established = true;
    c->last_rx = std::chrono::steady_clock::now();
    e.stats->rx_frames.fetch_add(1, std::memory_order_relaxed);
    e.stats->rx_bytes.fetch_add(h.frame_size(), std::memory_order_relaxed);
    counters_.inc(Counter::handshake_ok);
    state_.events().add(EventSummary::Event::Connect);
    LOG_DEBUG_F(log_fields("IDENTITY", e.cfg.identity, "CLUSTER", m.clusters[e.cluster].name, "ENDPOINT", c->peer_text),
               "handshake: '%s' (cluster '%s', %s dialect) from %s", e.cfg.identity.c_str(),
             m.clusters[e.cluster].name.c_str(), std::string(dialect_name(c->dialect)).c_str(), c->peer_text.c_str());
    const std::string& body = sender_->reply_body(m, id, FrameType::HandshakeReply, nullptr, limits_.max_peers_per_reply,
                                                  c->key->overhead());
    sender_->to_conn(c, FrameType::HandshakeReply, body, *c->key, e.stats.get());
}

bool Worker::handle_control(const ConnectionPtr& c, const FrameHeader& h, uint8_t* payload) {
    if (h.frame_type() != FrameType::KeepAlive) {
        // Handshake again, HandshakeReply, PeerUpdate, probes: nothing a client sends us on TCP.
        counters_.inc(Counter::unexpected_type_ignored);
        return true;
    }
    OpenItem it;
    it.key = c->key.get();
    it.payload = payload;
    it.payload_len = h.payload_length;
    it.out = pt_arena_.get() + (payload - arena_.get());
    if (engine_->open(it) != CryptoStatus::Ok) {
        LOG_LIMITED(LogLevel::Warn, "%s: KeepAlive failed authentication: closing", c->peer_text.c_str());
        close_conn(c, CloseReason::DecryptFailed);
        return false;
    }
    auto ka = decode_keepalive(std::string_view(reinterpret_cast<const char*>(it.plaintext), it.plaintext_len));
    if (!ka) {
        LOG_LIMITED(LogLevel::Warn, "%s: KeepAlive does not parse (%s): closing", c->peer_text.c_str(),
                    ka.error().c_str());
        close_conn(c, CloseReason::BadJson);
        return false;
    }
    counters_.inc(Counter::keepalive_rx);
    c->last_rx = std::chrono::steady_clock::now();
    MutexLock lk(state_.mu());
    if (c->client == kNoClient) return true;  // kicked by a reload meanwhile
    ClientEntry& e = state_.members().clients[c->client];
    e.stats->rx_frames.fetch_add(1, std::memory_order_relaxed);
    e.stats->rx_bytes.fetch_add(h.frame_size(), std::memory_order_relaxed);
    if (e.rt.conn != c) return true;
    handle_keepalive(c, ka.value());
    return true;
}

void Worker::handle_keepalive(const ConnectionPtr& c, const KeepAlive& ka) {
    Membership& m = state_.members();
    ClientEntry& e = m.clients[c->client];
    if (ka.identity != e.cfg.identity) {
        // docs/protocol.md, "Known weaknesses": the body identity is never trusted; the
        // connection's identity is used.
        counters_.inc(Counter::keepalive_identity_mismatch);
        LOG_LIMITED_F(LogLevel::Warn, log_fields("IDENTITY", e.cfg.identity),
                      "'%s' sent a KeepAlive naming '%s': using the connection's identity",
                    e.cfg.identity.c_str(), ka.identity.c_str());
    }
    if (c->dialect == Dialect::Old && dialect_of_keepalive(ka) == Dialect::New) {
        // A client that sends HEAD-era members cannot parse PeerUpdate: never send it one.
        c->dialect = e.rt.dialect = Dialect::New;
        state_.fleet_changed(e.cfg.identity);
    }
    if (m.apply_keepalive(c->client, ka)) {
        sender_->peer_update(m, c->client);
        state_.fleet_changed(e.cfg.identity);
    }
    const std::string& body =
        sender_->reply_body(m, c->client, FrameType::KeepAlive, &ka, limits_.max_peers_per_reply, c->key->overhead());
    sender_->to_conn(c, FrameType::KeepAlive, body, *c->key, e.stats.get());
}

}  // namespace rustun::cp
