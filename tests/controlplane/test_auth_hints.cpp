// Hinted trial authentication (docs/controlplane.md, "Authentication cost"): hints only change
// the order in which keys are tried. A wrong hint falls back to the other keys and authenticates
// correctly, a correct hint never accepts a forged frame or an identity of another cluster, and
// no frame costs more than one decryption per distinct key. Also the source-address hint table.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "auth_hints.hpp"
#include "config/yaml_loader.hpp"
#include "crypto/key_hint.hpp"
#include "trial_auth.hpp"

namespace rustun::cp::test {
namespace {

constexpr uint32_t kClusters = 40;

// kClusters clusters of two clients ("i<c>a", "i<c>b"), every second one aes256, one key each,
// plus cluster "x" with an XOR key and one that shares cluster 0's key.
std::string many_keys_yaml() {
    std::string y = "listen:\n  tcp: 127.0.0.1:0\ncrypto: chacha20:rustun\ncontrol_socket: /tmp/unused.sock\nclusters:\n";
    uint32_t ip = 1;
    char line[200];
    auto client = [&](const char* id) {
        std::snprintf(line, sizeof line, "      - {identity: %s, private_ip: 10.0.%u.%u, mask: 255.0.0.0, gateway: 10.255.255.254}\n",
                      id, ip / 250, ip % 250 + 1);
        y.append(line);
        ++ip;
    };
    for (uint32_t c = 0; c < kClusters; ++c) {
        std::snprintf(line, sizeof line, "  - name: c%u\n    crypto: %s:key-%u\n    clients:\n", c,
                      c % 2 ? "aes256" : "chacha20", c);
        y.append(line);
        char id[32];
        std::snprintf(id, sizeof id, "i%ua", c);
        client(id);
        std::snprintf(id, sizeof id, "i%ub", c);
        client(id);
    }
    y.append("  - name: x\n    crypto: xor:xorkey\n    clients:\n");
    client("ix");
    y.append("  - name: twin\n    crypto: chacha20:key-0\n    clients:\n");
    client("itwin");
    return y;
}

class AuthHintsTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto cfg = load_config_string(many_keys_yaml(), "many.yaml");
        ASSERT_TRUE(cfg.ok()) << cfg.error();
        auto m = Membership::build(cfg.value());
        ASSERT_TRUE(m.ok()) << m.error();
        m_ = std::move(m.value());
        auto eng = CryptoEngine::create();
        ASSERT_TRUE(eng.ok());
        eng_ = std::move(eng.value());
        out_.resize(kMaxFrameSize);
        ASSERT_EQ(m_->auth.keys.size(), kClusters + 1);  // "twin" shares cluster 0's key
    }
    ClusterId cluster_of(const std::string& identity) { return m_->clients[m_->find(identity)].cluster; }
    uint32_t key_of(const std::string& identity) { return m_->auth.cluster_key[cluster_of(identity)]; }
    // A Handshake payload of `identity` sealed with the key of `identity_for_key`'s cluster;
    // `nonce`: 12 bytes or null (random).
    std::vector<uint8_t> sealed(const std::string& identity, const std::string& identity_for_key,
                                const uint8_t* nonce = nullptr) {
        Handshake hs;
        hs.identity = identity;
        std::string body;
        encode_handshake(hs, Shape::New, body);
        std::vector<uint8_t> p(kMaxPayloadSize);
        uint32_t len = 0;
        const CipherKey& k = *m_->clusters[cluster_of(identity_for_key)].key;
        EXPECT_EQ(eng_->seal(k, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(body.data()), body.size()), p,
                             len, nonce),
                  CryptoStatus::Ok);
        p.resize(len);
        return p;
    }
    TrialAuth<Handshake> open(const std::vector<uint8_t>& payload, const TrialHints& h) {
        return trial_authenticate(*m_, h, *eng_, payload.data(), static_cast<uint32_t>(payload.size()), out_.data(),
                                  [](std::string_view b) { return decode_handshake(b); });
    }
    static TrialHints hints(std::initializer_list<uint32_t> idx) {
        TrialHints h;
        for (uint32_t i : idx) h.add(i);
        return h;
    }

    std::unique_ptr<Membership> m_;
    std::unique_ptr<CryptoEngine> eng_;
    std::vector<uint8_t> out_;
};

TEST_F(AuthHintsTest, ARightHintCostsOneDecryption) {
    auto t = open(sealed("i37b", "i37b"), hints({key_of("i37b")}));
    ASSERT_EQ(t.outcome, TrialOutcome::Accepted);
    EXPECT_TRUE(t.by_hint);
    EXPECT_EQ(t.opens, 1u);
    EXPECT_EQ(t.client, m_->find("i37b"));
    EXPECT_EQ(t.key_index, key_of("i37b"));
}

TEST_F(AuthHintsTest, AWrongHintFallsBackAndAuthenticatesCorrectly) {
    auto t = open(sealed("i37b", "i37b"), hints({key_of("i3a"), key_of("i4a"), 9999}));  // 9999: no such key
    ASSERT_EQ(t.outcome, TrialOutcome::Accepted);
    EXPECT_FALSE(t.by_hint);
    EXPECT_EQ(t.client, m_->find("i37b"));
    EXPECT_EQ(t.key_index, key_of("i37b"));
    EXPECT_LE(t.opens, m_->auth.keys.size());
}

TEST_F(AuthHintsTest, AForgedTagIsRefusedEvenWithTheRightHint) {
    auto p = sealed("i5a", "i5a");
    p.back() ^= 1;
    auto t = open(p, hints({key_of("i5a")}));
    EXPECT_EQ(t.outcome, TrialOutcome::NotOpened);
    EXPECT_EQ(t.client, kNoClient);
    // Every key once, the hinted one included: never more.
    EXPECT_EQ(t.opens, m_->auth.keys.size());
}

TEST_F(AuthHintsTest, TheHintedKeyCannotAdmitAnIdentityOfAnotherCluster) {
    // i6a (cluster c6) sealed with c7's key, hinted at c7's key: opens, but the identity is not c7's.
    auto t = open(sealed("i6a", "i7a"), hints({key_of("i7a")}));
    EXPECT_EQ(t.outcome, TrialOutcome::UnknownIdentity);
    EXPECT_EQ(t.refused_identity, "i6a");
    EXPECT_EQ(t.client, kNoClient);
}

TEST_F(AuthHintsTest, ClustersSharingAKeyStillLandInTheIdentitysCluster) {
    auto t = open(sealed("itwin", "i0a"), hints({key_of("i0a")}));
    ASSERT_EQ(t.outcome, TrialOutcome::Accepted);
    EXPECT_EQ(t.client, m_->find("itwin"));
}

TEST_F(AuthHintsTest, GarbageCostsAtMostOneDecryptionPerKey) {
    std::mt19937 rng(7);
    for (int round = 0; round < 20; ++round) {
        std::vector<uint8_t> junk(20 + round * 7);
        for (auto& b : junk) b = static_cast<uint8_t>(rng());
        TrialHints h;
        for (uint32_t i = 0; i < TrialHints::kMax + 4; ++i) h.add(static_cast<uint32_t>(rng() % (kClusters + 3)));
        h.add(h.idx[0]);  // a duplicate
        auto t = open(junk, h);
        EXPECT_NE(t.outcome, TrialOutcome::Accepted);
        EXPECT_LE(t.opens, m_->auth.keys.size()) << "round " << round;
    }
}

TEST_F(AuthHintsTest, TheNonceTagOfOurClientsNamesTheKey) {
    const auto tag = key_hint_tag(m_->clusters[cluster_of("i21b")].key->spec());
    ASSERT_TRUE(tag.has_value());
    uint8_t nonce[12];
    key_hint_nonce(*tag, nonce);
    auto p = sealed("i21b", "i21b", nonce);
    TrialHints h;
    add_tag_hints(m_->auth, p.data(), static_cast<uint32_t>(p.size()), h);
    ASSERT_GE(h.n, 1u);
    EXPECT_TRUE(h.has(key_of("i21b")));
    auto t = open(p, h);
    ASSERT_EQ(t.outcome, TrialOutcome::Accepted);
    EXPECT_TRUE(t.by_hint);
    EXPECT_EQ(t.opens, 1u);
    // XOR keys have no tag; two AEADs with one key string have two tags.
    EXPECT_FALSE(key_hint_tag(m_->clusters[cluster_of("ix")].key->spec()).has_value());
    auto c = CipherSpec::parse("chacha20:same"), a = CipherSpec::parse("aes256:same");
    ASSERT_TRUE(c.ok() && a.ok());
    EXPECT_NE(key_hint_tag(c.value()), key_hint_tag(a.value()));
}

TEST_F(AuthHintsTest, AForgedNonceTagOnlyChangesTheOrder) {
    // A frame sealed with c9's key whose nonce carries c10's tag: c10's key is tried first, in vain.
    const auto tag = key_hint_tag(m_->clusters[cluster_of("i10a")].key->spec());
    uint8_t nonce[12];
    key_hint_nonce(*tag, nonce);
    auto p = sealed("i9a", "i9a", nonce);
    TrialHints h;
    add_tag_hints(m_->auth, p.data(), static_cast<uint32_t>(p.size()), h);
    auto t = open(p, h);
    ASSERT_EQ(t.outcome, TrialOutcome::Accepted);
    EXPECT_FALSE(t.by_hint);
    EXPECT_EQ(t.client, m_->find("i9a"));
}

TEST(AuthHintTable, KeepsTheMostRecentKeysPerAddressOfOneGeneration) {
    AuthHints t(3);
    sockaddr_storage sa{};
    sa.ss_family = AF_INET;
    reinterpret_cast<sockaddr_in&>(sa).sin_addr.s_addr = htonl(0xC0000209);
    const AddrKey a = AddrKey::of(sa);
    shm::Endpoint ep{};
    ep.family = 4;
    ep.addr[0] = 192, ep.addr[1] = 0, ep.addr[2] = 2, ep.addr[3] = 9;
    ep.port = 4000;
    EXPECT_EQ(AddrKey::of(ep), a);  // the TCP peer's address is the UDP endpoint's (ports ignored)
    for (uint32_t k : {1u, 2u, 3u, 4u, 5u, 3u}) t.learn(a, 7, k);
    AuthHints::Keys got = t.lookup(a, 7);
    ASSERT_EQ(got.n, AuthHints::kKeysPerAddress);
    EXPECT_EQ(got.idx[0], 3u);
    EXPECT_EQ(got.idx[1], 5u);
    EXPECT_EQ(got.idx[2], 4u);
    EXPECT_EQ(got.idx[3], 2u);
    EXPECT_EQ(t.lookup(a, 8).n, 0u);  // another membership generation: nothing
    t.learn(a, 8, 9);                 // ... which replaces the old entry
    EXPECT_EQ(t.lookup(a, 8).n, 1u);
    EXPECT_EQ(t.lookup(a, 7).n, 0u);
    // Bounded: a fourth address evicts one of the three.
    for (uint8_t i = 1; i <= 3; ++i) {
        shm::Endpoint e{};
        e.family = 4;
        e.addr[0] = 10, e.addr[3] = i;
        t.learn(AddrKey::of(e), 8, i);
    }
    EXPECT_EQ(t.size(), 3u);
}

}  // namespace
}  // namespace rustun::cp::test
