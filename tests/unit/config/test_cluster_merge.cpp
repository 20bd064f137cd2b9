// config-merge: clusters from clients_file (routes.json) and inline clusters are merged.
#include <gtest/gtest.h>

#include "config/yaml_loader.hpp"
#include "test_helpers.hpp"

namespace rustun {
namespace {

#define EXPECT_HAS(haystack, needle) \
    EXPECT_NE((haystack).find(needle), std::string::npos) << "missing \"" << (needle) << "\" in: " << (haystack)

constexpr std::string_view kRoutes = R"([
{"cluster":"test","identity":"client-a","private_ip":"10.0.1.2","mask":"255.255.255.0","gateway":"10.0.1.254","ciders":[]},
{"cluster":"other","identity":"client-x","private_ip":"10.0.1.2","mask":"255.255.255.0","gateway":"10.0.1.254","ciders":[]},
{"cluster":"test","identity":"client-b","private_ip":"10.0.1.3","mask":"255.255.255.0","gateway":"10.0.1.254","ciders":["192.168.1.0/24"]}
])";

constexpr std::string_view kYaml = R"(listen: {tcp: 0.0.0.0:8080}
crypto: chacha20:rustun
clients_file: routes.json
clusters:
  - name: new
    clients:
      - {identity: client-n, private_ip: 10.9.0.1, mask: 255.255.0.0, gateway: 10.9.0.254}
  - name: test
    crypto: aes256:otherkey
    clients:
      - {identity: client-d, private_ip: 10.0.1.9, mask: 255.255.255.0, gateway: 10.0.1.254}
)";

TEST(ConfigMerge, FileAndInlineClustersMerge) {
    test::TempDir dir;
    dir.write("routes.json", kRoutes);
    auto r = load_config_string(kYaml, dir.path() + "/gw.yaml");
    ASSERT_TRUE(r.ok()) << r.error();
    const auto& cl = r->clusters;
    ASSERT_EQ(cl.size(), 3u);
    // File clusters in order of first appearance, then inline-only clusters.
    EXPECT_EQ(cl[0].name, "test");
    EXPECT_EQ(cl[1].name, "other");
    EXPECT_EQ(cl[2].name, "new");
    // "test": file clients first (file order), then inline; the inline crypto override applies.
    ASSERT_EQ(cl[0].clients.size(), 3u);
    EXPECT_EQ(cl[0].clients[0].identity, "client-a");
    EXPECT_EQ(cl[0].clients[1].identity, "client-b");
    EXPECT_EQ(cl[0].clients[2].identity, "client-d");
    EXPECT_TRUE(cl[0].crypto_overridden);
    EXPECT_EQ(cl[0].crypto.method, CipherMethod::Aes256Gcm);
    EXPECT_EQ(cl[0].crypto.key, "otherkey");
    EXPECT_NE(cl[0].clients[0].origin.find("routes.json: line 2"), std::string::npos) << cl[0].clients[0].origin;
    EXPECT_NE(cl[0].clients[2].origin.find("gw.yaml: line 11"), std::string::npos) << cl[0].clients[2].origin;
    // "other" only in the file: default crypto.
    EXPECT_FALSE(cl[1].crypto_overridden);
    EXPECT_EQ(cl[1].crypto.method, CipherMethod::ChaCha20Poly1305);
    EXPECT_EQ(cl[1].crypto.key, "rustun");
    EXPECT_EQ(cl[1].clients.at(0).identity, "client-x");
    EXPECT_EQ(cl[2].clients.at(0).identity, "client-n");
    EXPECT_EQ(r->total_clients(), 5u);
}

TEST(ConfigMerge, DuplicateIdentityAcrossFileAndInline) {
    test::TempDir dir;
    dir.write("routes.json", kRoutes);
    std::string yaml = test::replace_once(std::string(kYaml), "identity: client-n", "identity: client-b");
    auto r = load_config_string(yaml, dir.path() + "/gw.yaml");
    ASSERT_FALSE(r.ok());
    EXPECT_HAS(r.error(), "gw.yaml: line 7, column 20: clusters[0].clients[0].identity: duplicate identity \"client-b\"");
    EXPECT_HAS(r.error(), "first defined at " + dir.path() + "/routes.json: line 4, column 30: [2].identity");
}

TEST(ConfigMerge, DuplicatePrivateIpAcrossFileAndInline) {
    test::TempDir dir;
    dir.write("routes.json", kRoutes);
    std::string yaml = test::replace_once(std::string(kYaml), "private_ip: 10.0.1.9", "private_ip: 10.0.1.3");
    auto r = load_config_string(yaml, dir.path() + "/gw.yaml");
    ASSERT_FALSE(r.ok());
    EXPECT_HAS(r.error(), "gw.yaml: line 11");
    EXPECT_HAS(r.error(), "clusters[1].clients[0].private_ip: private_ip 10.0.1.3 is already used in cluster \"test\" by identity \"client-b\"");
}

TEST(ConfigMerge, ErrorsInsideClientsFileNameThatFile) {
    test::TempDir dir;
    dir.write("routes.json", test::replace_once(std::string(kRoutes), "\"10.0.1.3\"", "\"10.0.1\""));
    auto r = load_config_string(kYaml, dir.path() + "/gw.yaml");
    ASSERT_FALSE(r.ok());
    EXPECT_HAS(r.error(), dir.path() + "/routes.json: line 4, column 54: [2].private_ip: expected an IPv4 address");
}

}  // namespace
}  // namespace rustun
