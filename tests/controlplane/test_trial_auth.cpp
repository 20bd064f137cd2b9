// trial_authenticate(): the one rule for frames whose sender is not known yet (TCP Handshake,
// punted UDP KeepAlive), on a Membership built from the standard scenario, without sockets.
#include <gtest/gtest.h>

#include "config/yaml_loader.hpp"
#include "harness.hpp"
#include "trial_auth.hpp"

namespace rustun::cp::test {
namespace {

class TrialAuthTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto cfg = load_config_string(scenario_yaml("/tmp/unused.sock"), "scenario.yaml");
        ASSERT_TRUE(cfg.ok()) << cfg.error();
        auto m = Membership::build(cfg.value());
        ASSERT_TRUE(m.ok()) << m.error();
        m_ = std::move(m.value());
        auto eng = CryptoEngine::create();
        ASSERT_TRUE(eng.ok());
        eng_ = std::move(eng.value());
        for (const auto& k : m_->trial_keys) keys_.push_back(k.get());
        out_.resize(kMaxFrameSize);
    }
    // The payload of a frame carrying `body`, sealed with the key of cluster `cluster`.
    std::vector<uint8_t> sealed(const std::string& body, ClusterId cluster) {
        std::vector<uint8_t> p(kMaxPayloadSize);
        uint32_t len = 0;
        EXPECT_EQ(eng_->seal(*m_->clusters[cluster].key,
                             std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(body.data()), body.size()), p,
                             len),
                  CryptoStatus::Ok);
        p.resize(len);
        return p;
    }
    static std::string handshake_of(const std::string& identity) {
        Handshake hs;
        hs.identity = identity;
        std::string body;
        encode_handshake(hs, Shape::New, body);
        return body;
    }
    TrialAuth<Handshake> open(const std::vector<uint8_t>& payload) {
        return trial_authenticate(*m_, keys_, *eng_, payload.data(), static_cast<uint32_t>(payload.size()), out_.data(),
                                  [](std::string_view b) { return decode_handshake(b); });
    }

    std::unique_ptr<Membership> m_;
    std::unique_ptr<CryptoEngine> eng_;
    std::vector<const CipherKey*> keys_;
    std::vector<uint8_t> out_;
};

TEST_F(TrialAuthTest, TheIdentitysOwnClusterKeyIsAccepted) {
    auto t = open(sealed(handshake_of("client-y"), 1));  // cluster "other" (aes256)
    ASSERT_EQ(t.outcome, TrialOutcome::Accepted);
    EXPECT_EQ(t.client, m_->find("client-y"));
    EXPECT_EQ(t.body.identity, "client-y");
    EXPECT_EQ(keys_[t.key_index]->spec(), m_->clusters[1].key->spec());
}

TEST_F(TrialAuthTest, AnIdentitySealedWithAnotherClustersKeyIsUnknown) {
    auto t = open(sealed(handshake_of("client-y"), 0));  // client-y is not of cluster "test"
    EXPECT_EQ(t.outcome, TrialOutcome::UnknownIdentity);
    EXPECT_EQ(t.refused_identity, "client-y");
    EXPECT_EQ(t.client, kNoClient);
    EXPECT_EQ(open(sealed(handshake_of("nobody"), 0)).outcome, TrialOutcome::UnknownIdentity);
}

TEST_F(TrialAuthTest, AnAuthenticBodyThatDoesNotParseIsNotParsed) {
    EXPECT_EQ(open(sealed("not json", 0)).outcome, TrialOutcome::NotParsed);
}

TEST_F(TrialAuthTest, BytesNoKeyAuthenticatesAreNotOpened) {
    auto p = sealed(handshake_of("client-a"), 0);
    p.back() ^= 1;  // tag
    EXPECT_EQ(open(p).outcome, TrialOutcome::NotOpened);
}

TEST_F(TrialAuthTest, ClientForComparesKeysByValue) {
    const ClientId a = m_->find("client-a");
    EXPECT_EQ(m_->client_for("client-a", *m_->clusters[0].key), a);
    EXPECT_EQ(m_->client_for("client-a", *m_->clusters[1].key), kNoClient);
    auto same_spec = CipherKey::create(m_->clusters[0].key->spec());
    ASSERT_TRUE(same_spec.ok());
    EXPECT_EQ(m_->client_for("client-a", *same_spec.value()), a);  // another object, same key
    EXPECT_EQ(m_->client_for("nobody", *m_->clusters[0].key), kNoClient);
}

}  // namespace
}  // namespace rustun::cp::test
