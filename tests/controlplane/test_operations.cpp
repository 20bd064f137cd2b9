// Reload and the control socket (through the socket itself and through rustunctl).
#include <sys/wait.h>

#include <array>
#include <regex>

#include "harness.hpp"

namespace rustun::cp::test {
namespace {

class Ops : public GatewayFixture {
protected:
    // Rewrites the configuration file with a text substitution of the scenario.
    void edit(const std::string& from, const std::string& to, const std::string& extra = "") {
        std::string y = scenario_yaml(socket_path_, extra);
        auto pos = y.find(from);
        ASSERT_NE(pos, std::string::npos) << from;
        y.replace(pos, from.size(), to);
        write_config(y);
    }
};

TEST_F(Ops, ReloadAddsRemovesChangesAndRekeys) {
    start();
    auto a = join("client-a", Dialect::New);
    auto b = join("client-b", Dialect::New);
    auto c = join("client-c", Dialect::New);
    auto x = join("client-x", Dialect::New, nullptr, other_key());
    ASSERT_TRUE(a && b && c && x);
    // b renamed (changed in place), c removed, client-z added, cluster "other" re-keyed.
    std::string y = scenario_yaml(socket_path_);
    y.replace(y.find("name: Client B"), 14, "name: Client B2");
    y.replace(y.find("      - {identity: client-c"), y.find("  - name: other") - y.find("      - {identity: client-c"),
              "      - {identity: client-z, name: Z, private_ip: 10.0.1.5, mask: 255.255.255.0, gateway: 10.0.1.254, ciders: []}\n");
    y.replace(y.find("aes256:other-tenant-key"), 23, "aes256:rotated-key");
    write_config(y);
    std::string ans = command("{\"cmd\":\"reload\"}");
    EXPECT_NE(ans.find("\"added\":[\"client-z\"]"), std::string::npos) << ans;
    EXPECT_NE(ans.find("\"removed\":[\"client-c\"]"), std::string::npos) << ans;
    EXPECT_NE(ans.find("\"changed\":[\"client-b\"]"), std::string::npos) << ans;
    EXPECT_NE(ans.find("\"rekeyed\":[\"client-x\",\"client-y\"]"), std::string::npos) << ans;
    EXPECT_TRUE(c->wait_closed(3000));
    EXPECT_TRUE(x->wait_closed(3000));
    // a and b stay connected and keep relaying; b's new name shows in a's peer list.
    KeepAlive r = keepalive(*a, "client-a", Dialect::New);
    ASSERT_FALSE(r.peer_details.empty());
    EXPECT_EQ(r.peer_details[0].name, "Client B2");
    auto pkt = ipv4_packet("10.0.1.2", "10.0.1.3");
    ASSERT_TRUE(a->send(FrameType::Data, std::string_view(reinterpret_cast<const char*>(pkt.data()), pkt.size())).ok());
    auto got = b->recv(3000);
    ASSERT_TRUE(got.ok()) << got.error();
    // The new identity can join; the removed one cannot.
    EXPECT_TRUE(join("client-z", Dialect::New));
    auto gone = connect();
    send_handshake(*gone, "client-c");
    EXPECT_TRUE(gone->wait_closed(3000));
    // x with the rotated key is accepted again.
    EXPECT_TRUE(join("client-x", Dialect::New, nullptr, spec("aes256:rotated-key")));
}

TEST_F(Ops, BadReloadKeepsTheRunningConfiguration) {
    start();
    auto a = join("client-a", Dialect::New);
    ASSERT_TRUE(a);
    std::string y = scenario_yaml(socket_path_);
    y.replace(y.find("private_ip: 10.0.1.3"), 20, "private_ip: 10.0.1.300");
    write_config(y);
    std::string ans = command("{\"cmd\":\"reload\"}");
    EXPECT_NE(ans.find("\"ok\":false"), std::string::npos) << ans;
    EXPECT_NE(ans.find("private_ip"), std::string::npos) << ans;
    EXPECT_NE(ans.find("line"), std::string::npos) << ans;
    EXPECT_EQ(keepalive(*a, "client-a", Dialect::New).peer_details.size(), 2u);
    EXPECT_TRUE(join("client-b", Dialect::New));
}

TEST_F(Ops, RestartOnlyKeysAreReportedNotApplied) {
    start();
    std::string y = scenario_yaml(socket_path_);
    y.replace(y.find("workers: 1"), 10, "workers: 2");
    write_config(y);
    std::string ans = command("{\"cmd\":\"reload\"}");
    EXPECT_NE(ans.find("controlplane.workers"), std::string::npos) << ans;
    std::string st = command("{\"cmd\":\"status\"}");
    EXPECT_NE(st.find("\"workers\":1"), std::string::npos) << st;
}

TEST_F(Ops, EveryControlCommandAnswers) {
    start();
    auto a = join("client-a", Dialect::Old);
    ASSERT_TRUE(a);
    std::string st = command("{\"cmd\":\"status\"}");
    EXPECT_NE(st.find("\"clients_online\":1"), std::string::npos) << st;
    std::string cl = command("{\"cmd\":\"clients\"}");
    for (const char* k : {"identity", "name", "cluster", "private_ip", "online", "dialect", "tcp_peer", "udp_endpoint",
                          "last_active", "rx_frames", "rx_bytes", "tx_frames", "tx_bytes", "drops"})
        EXPECT_NE(cl.find(std::string("\"") + k + "\":"), std::string::npos) << k;
    EXPECT_NE(cl.find("client-y"), std::string::npos);
    std::string only = command("{\"cmd\":\"clients\",\"cluster\":\"other\"}");
    EXPECT_EQ(only.find("client-a"), std::string::npos) << only;
    EXPECT_NE(command("{\"cmd\":\"clients\",\"cluster\":\"nope\"}").find("no cluster named"), std::string::npos);
    EXPECT_NE(command("{\"cmd\":\"client\",\"identity\":\"client-a\"}").find("\"tcp_peer\":\"127.0.0.1:"),
              std::string::npos);
    EXPECT_NE(command("{\"cmd\":\"client\",\"identity\":\"nobody\"}").find("\"ok\":false"), std::string::npos);
    std::string stats = command("{\"cmd\":\"stats\"}");
    EXPECT_NE(stats.find("\"handshake_ok\":1"), std::string::npos) << stats;
    // No dataplane attached: the runtime answers, with null workers.
    std::string runtime = command("{\"cmd\":\"runtime\"}");
    EXPECT_NE(runtime.find("\"workers\":null"), std::string::npos) << runtime;
    EXPECT_NE(command("{\"cmd\":\"kick\",\"identity\":\"client-a\"}").find("\"kicked\":true"), std::string::npos);
    EXPECT_TRUE(a->wait_closed(3000));
    EXPECT_NE(command("{\"cmd\":\"frobnicate\"}").find("unknown command"), std::string::npos);
    EXPECT_NE(command("not json").find("\"ok\":false"), std::string::npos);
}

std::string run(const std::string& cmd, int* status) {
    std::string out;
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    int rc = pclose(p);
    *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return out;
}

TEST_F(Ops, RustunctlTalksToTheSocket) {
    const char* ctl = getenv("RUSTUNCTL");
    if (!ctl) GTEST_SKIP() << "RUSTUNCTL not set";
    start();
    auto a = join("client-a", Dialect::New);
    ASSERT_TRUE(a);
    std::string base = std::string(ctl) + " --socket " + socket_path_ + " ";
    int rc;
    std::string out = run(base + "clients", &rc);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_TRUE(std::regex_search(out, std::regex("client-a +test +10\\.0\\.1\\.2 +online +new"))) << out;
    EXPECT_NE(out.find("5 clients, 1 online"), std::string::npos) << out;
    out = run(base + "--json clients --cluster test", &rc);
    EXPECT_EQ(rc, 0);
    EXPECT_NE(out.find("\"udp_endpoint\": null"), std::string::npos) << out;
    out = run(base + "status", &rc);
    EXPECT_NE(out.find("clients_online"), std::string::npos) << out;
    out = run(base + "stats", &rc);
    EXPECT_NE(out.find("handshake_ok"), std::string::npos) << out;
    out = run(base + "runtime", &rc);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("dataplane: (not attached)"), std::string::npos) << out;
    out = run(base + "client client-a", &rc);
    EXPECT_NE(out.find("10.0.1.2"), std::string::npos) << out;
    out = run(base + "reload", &rc);
    EXPECT_EQ(rc, 0) << out;
    out = run(base + "kick client-a", &rc);
    EXPECT_EQ(rc, 0) << out;
    out = run(base + "client nobody", &rc);
    EXPECT_EQ(rc, 1);
    EXPECT_NE(out.find("no client with identity 'nobody'"), std::string::npos) << out;
    out = run(std::string(ctl) + " --socket " + dir_ + "/missing.sock status", &rc);
    EXPECT_EQ(rc, 1);
    EXPECT_NE(out.find("cannot connect"), std::string::npos) << out;
    out = run(std::string(ctl) + " --help", &rc);
    EXPECT_EQ(rc, 0);
}

// One kick closes one connection and counts it once (kicked), however the close is requested.
TEST_F(Ops, OneKickThroughTheControlSocketCountsOnce) {
    const char* ctl = getenv("RUSTUNCTL");
    if (!ctl) GTEST_SKIP() << "RUSTUNCTL not set";
    start();
    auto a = join("client-a", Dialect::New);
    auto b = join("client-b", Dialect::New);
    ASSERT_TRUE(a && b);
    int rc;
    std::string out = run(std::string(ctl) + " --socket " + socket_path_ + " kick client-a", &rc);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_TRUE(a->wait_closed(3000));
    ASSERT_TRUE(wait_counter(Counter::conn_closed, 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // nothing else may follow
    EXPECT_EQ(counter(Counter::kicked), 1u);
    EXPECT_EQ(counter(Counter::conn_closed), 1u);
    // A reload that removes a client kicks it: counted once as well.
    std::string yaml = scenario_yaml(socket_path_);
    const size_t at = yaml.find("      - {identity: client-b");
    yaml.erase(at, yaml.find('\n', at) + 1 - at);
    write_config(yaml);
    EXPECT_NE(command("{\"cmd\":\"reload\"}").find("\"removed\":[\"client-b\"]"), std::string::npos);
    EXPECT_TRUE(b->wait_closed(3000));
    ASSERT_TRUE(wait_counter(Counter::conn_closed, 2));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(counter(Counter::kicked), 2u);
}

TEST_F(Ops, ControlSocketIsOwnerOnly) {
    start();
    struct stat st;
    ASSERT_EQ(::stat(socket_path_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

}  // namespace
}  // namespace rustun::cp::test
