// rustunctl against an in-process gateway (docs/cli.md): how it finds the socket, stats with
// descriptions and --nonzero, clients --online --limit, readable times, clear-counters (a
// baseline: the counters themselves stay), watch, and its usage errors.
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <regex>
#include <thread>

#include "harness.hpp"

namespace rustun::cp::test {
namespace {

class Ctl : public GatewayFixture {
protected:
    void SetUp() override {
        GatewayFixture::SetUp();
        const char* ctl = getenv("RUSTUNCTL");
        if (!ctl) GTEST_SKIP() << "RUSTUNCTL not set";
        ctl_ = ctl;
    }
    // `args` through sh; stdout and stderr together.
    std::string run(const std::string& args, int* status, const std::string& env = "") {
        std::string out;
        FILE* p = popen((env + " " + ctl_ + " " + args + " 2>&1").c_str(), "r");
        std::array<char, 4096> buf;
        size_t n;
        while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
        const int rc = pclose(p);
        *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
        return out;
    }
    std::string ctl(const std::string& args, int* status) { return run("--socket " + socket_path_ + " " + args, status); }
    std::string ctl_;
};

TEST_F(Ctl, FindsTheSocketFromOptionEnvironmentOrConfig) {
    start();
    int rc;
    std::string out = run("status", &rc, "RUSTUN_SOCKET=" + socket_path_);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("clients_online"), std::string::npos) << out;
    out = run("--config " + config_path_ + " status", &rc, "RUSTUN_SOCKET=");
    EXPECT_EQ(rc, 0) << out;
    out = run("status -c " + config_path_, &rc, "RUSTUN_SOCKET=");  // options may follow the command
    EXPECT_EQ(rc, 0) << out;
    // --socket wins over the environment, the environment over --config.
    out = run("--socket " + socket_path_ + " status", &rc, "RUSTUN_SOCKET=" + dir_ + "/nope.sock");
    EXPECT_EQ(rc, 0) << out;
    out = run("-c " + config_path_ + " status", &rc, "RUSTUN_SOCKET=" + dir_ + "/nope.sock");
    EXPECT_EQ(rc, 1);
    EXPECT_NE(out.find("nope.sock"), std::string::npos) << out;
    out = run("-c " + dir_ + "/missing.yaml status", &rc, "RUSTUN_SOCKET=");
    EXPECT_EQ(rc, 1);
    EXPECT_NE(out.find("missing.yaml"), std::string::npos) << out;
    // The uptime reads as a duration.
    out = ctl("status", &rc);
    EXPECT_TRUE(std::regex_search(out, std::regex("uptime_s +[0-9]+ \\([0-9]+s\\)"))) << out;
}

TEST_F(Ctl, StatsDescribeEveryCounterAndNonzeroHidesTheZeros) {
    start();
    ASSERT_TRUE(join("client-a", Dialect::New));
    int rc;
    std::string out = ctl("stats", &rc);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_TRUE(std::regex_search(out, std::regex("\n  handshake_ok +1 +handshakes accepted\n"))) << out;
    EXPECT_TRUE(std::regex_search(out, std::regex("\n  kicked +0 +connections closed by rustunctl kick or reload\n"))) << out;
    EXPECT_NE(out.find("dataplane:\n  (not attached)"), std::string::npos) << out;
    out = ctl("stats --nonzero", &rc);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("handshake_ok"), std::string::npos) << out;
    EXPECT_EQ(out.find("kicked"), std::string::npos) << out;
    out = ctl("dataplane", &rc);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("not configured"), std::string::npos) << out;
}

TEST_F(Ctl, ClientsOnlineAndLimitAndReadableTimes) {
    start();
    auto a = join("client-a", Dialect::New);
    auto b = join("client-b", Dialect::Old);
    ASSERT_TRUE(a && b);
    int rc;
    std::string out = ctl("clients --online", &rc);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("client-a"), std::string::npos) << out;
    EXPECT_EQ(out.find("client-c"), std::string::npos) << out;
    EXPECT_NE(out.find("2 clients, 2 online\n"), std::string::npos) << out;
    out = ctl("clients --limit 1", &rc);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("5 clients, 2 online (1 shown: --limit)"), std::string::npos) << out;
    EXPECT_EQ(out.find("client-b"), std::string::npos) << out;
    out = ctl("clients --cluster test --online --limit 0", &rc);
    EXPECT_NE(out.find("2 clients, 2 online (0 shown: --limit)"), std::string::npos) << out;
    EXPECT_NE(command("{\"cmd\":\"clients\",\"online\":\"true\",\"limit\":\"1\"}").find("\"matched\":2,\"online\":2"),
              std::string::npos);
    EXPECT_NE(command("{\"cmd\":\"clients\",\"limit\":\"x\"}").find("limit: expected a number"), std::string::npos);
    out = ctl("client client-a", &rc);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_TRUE(std::regex_search(out, std::regex("connected_since +[0-9]{10} \\([0-9]+s ago\\)"))) << out;
    EXPECT_TRUE(std::regex_search(out, std::regex("last_active +[0-9]{10} \\([0-9]+s ago\\)"))) << out;
    out = ctl("client client-c", &rc);  // configured, never connected
    EXPECT_TRUE(std::regex_search(out, std::regex("connected_since +never"))) << out;
}

TEST_F(Ctl, ClearCountersIsABaselineNotAReset) {
    start();
    ASSERT_TRUE(join("client-a", Dialect::New));
    ASSERT_TRUE(join("client-b", Dialect::New));
    int rc;
    std::string out = ctl("clear-counters", &rc);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("counters cleared"), std::string::npos) << out;
    std::string js = command("{\"cmd\":\"stats\"}");
    EXPECT_NE(js.find("\"handshake_ok\":0"), std::string::npos) << js;
    EXPECT_NE(js.find("\"cleared_at\":"), std::string::npos) << js;
    ASSERT_TRUE(join("client-c", Dialect::New));
    js = command("{\"cmd\":\"stats\"}");
    EXPECT_NE(js.find("\"handshake_ok\":1"), std::string::npos) << js;
    EXPECT_EQ(counter(Counter::handshake_ok), 3u);  // the counter itself (and the metrics) kept counting
    out = ctl("stats --nonzero", &rc);
    EXPECT_NE(out.find("counts since clear-counters"), std::string::npos) << out;
}

TEST_F(Ctl, WatchPrintsTheRatesOfWhatChanged) {
    start();
    std::thread joiner([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
        auto c = join("client-a", Dialect::New);
        EXPECT_TRUE(c);
    });
    int rc;
    std::string out = ctl("watch --interval 0.5 --count 2", &rc);
    joiner.join();
    EXPECT_EQ(rc, 0) << out;
    EXPECT_TRUE(std::regex_search(out, std::regex("controlplane\\.handshake_ok +1 +[0-9.]+\n"))) << out;
    size_t reports = 0;
    for (size_t at = 0; (at = out.find(" s:\n", at)) != std::string::npos; ++at) ++reports;
    EXPECT_EQ(reports, 2u) << out;
}

TEST_F(Ctl, UsageErrorsExitTwoAndNameTheCulprit) {
    int rc;
    std::string out = ctl("stats --bogus", &rc);
    EXPECT_EQ(rc, 2);
    EXPECT_NE(out.find("rustunctl stats: unknown option '--bogus' (try --help)"), std::string::npos) << out;
    out = ctl("client", &rc);
    EXPECT_EQ(rc, 2);
    EXPECT_NE(out.find("expected IDENTITY"), std::string::npos) << out;
    out = ctl("frobnicate", &rc);
    EXPECT_EQ(rc, 2);
    EXPECT_NE(out.find("unknown command 'frobnicate'"), std::string::npos) << out;
    out = ctl("watch --interval 0", &rc);
    EXPECT_EQ(rc, 2);
    EXPECT_NE(out.find("--interval"), std::string::npos) << out;
    out = run("stats --help", &rc);
    EXPECT_EQ(rc, 0);
    EXPECT_NE(out.find("--nonzero"), std::string::npos) << out;
}

}  // namespace
}  // namespace rustun::cp::test
