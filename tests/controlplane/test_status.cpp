// What `status` tells an operator (docs/controlplane.md, "Control socket"; docs/operations.md,
// "Upgrades"): the last reload's result, restart-only changes waiting for a restart, both
// processes' versions and why the dataplane is not attached; and the daemon's log line for a
// reload requested through the control socket.
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "harness.hpp"
#include "shm/channel.hpp"
#include "util/version.hpp"

namespace rustun::cp::test {
namespace {

// One request line through the real control socket; the answer line, "" on failure.
std::string socket_request(const std::string& path, const std::string& line) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size());
    std::string out;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::send(fd, line.data(), line.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(line.size())) {
        char buf[4096];
        for (int i = 0; i < 100 && out.find('\n') == std::string::npos; ++i) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 3000) <= 0) break;
            ssize_t r = ::recv(fd, buf, sizeof buf, 0);
            if (r <= 0) break;
            out.append(buf, static_cast<size_t>(r));
        }
    }
    ::close(fd);
    return out;
}

class Status : public GatewayFixture {
protected:
    void SetUp() override {
        GatewayFixture::SetUp();
        log_ = std::tmpfile();
        ASSERT_NE(log_, nullptr);
        set_log_sink(log_);
        chan_dir_ = dir_ + "/run";
        ::mkdir(chan_dir_.c_str(), 0700);
        chan_path_ = chan_dir_ + "/dataplane.chan";
    }
    void TearDown() override {
        GatewayFixture::TearDown();
        set_log_sink(nullptr);
        std::fclose(log_);
    }
    std::string log_text() {
        std::fflush(log_);
        std::rewind(log_);
        std::string s;
        char b[4096];
        size_t n;
        while ((n = std::fread(b, 1, sizeof b, log_)) > 0) s.append(b, n);
        return s;
    }
    std::string status() { return command("{\"cmd\":\"status\"}"); }
    void start_with_channel() {
        std::string y = scenario_yaml(socket_path_);
        y.replace(y.find("clusters:"), 0,
                  "dataplane:\n  channel: " + chan_path_ + "\n  port: net_null0\n  address: 192.0.2.1\n");
        write_config(y);
        auto cfg = load_config_file(config_path_);
        ASSERT_TRUE(cfg.ok()) << cfg.error();
        gw_ = std::make_unique<Gateway>(std::move(cfg.value()), config_path_);
        ASSERT_TRUE(gw_->start().ok());
    }
    // A segment as a dataplane of software version `version` creates it.
    std::unique_ptr<shm::Channel> dataplane_segment(const std::string& version) {
        shm::ChannelOptions o{1, 1024, 256, 256};
        o.software_version = version;
        auto ch = shm::Channel::create(chan_path_, o);
        EXPECT_TRUE(ch.ok()) << ch.error();
        return ch.ok() ? std::move(ch.value()) : nullptr;
    }
    // Waits until status() contains `what` (the link thread attaches every 200 ms).
    bool wait_status(const std::string& what) {
        for (int i = 0; i < 300; ++i) {
            if (status().find(what) != std::string::npos) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return false;
    }

    std::FILE* log_ = nullptr;
    std::string chan_dir_, chan_path_;
};

TEST_F(Status, BeforeAnyReloadThereIsNoLastReloadAndNothingPending) {
    start();
    const std::string st = status();
    EXPECT_NE(st.find("\"version\":\"" + std::string(kVersion) + "\""), std::string::npos) << st;
    EXPECT_NE(st.find("\"last_reload\":null"), std::string::npos) << st;
    EXPECT_NE(st.find("\"restart_pending\":[]"), std::string::npos) << st;
}

// `rustunctl reload` goes through the control socket: a failure must leave an error line with
// the reason in the daemon's log (it used to be logged for SIGHUP only) and show in status.
TEST_F(Status, AFailedReloadThroughTheControlSocketIsLoggedAndShown) {
    start();
    std::string y = scenario_yaml(socket_path_);
    y.replace(y.find("private_ip: 10.0.1.3"), 20, "private_ip: 10.0.1.300");
    write_config(y);
    const std::string ans = socket_request(socket_path_, "{\"cmd\":\"reload\"}\n");
    EXPECT_NE(ans.find("\"ok\":false"), std::string::npos) << ans;
    const std::string log = log_text();
    EXPECT_NE(log.find("ERROR reload of " + config_path_ + " (rustunctl reload) failed, running configuration kept: "),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("10.0.1.300"), std::string::npos) << log;
    const std::string st = status();
    EXPECT_NE(st.find("\"result\":\"failed\",\"trigger\":\"rustunctl reload\",\"error\":\""), std::string::npos) << st;
    EXPECT_NE(st.find("10.0.1.300"), std::string::npos) << st;
}

TEST_F(Status, AGoodReloadLogsItsDiffAndCountsAndListsPendingRestartOnlyKeys) {
    start();
    set_log_level(LogLevel::Info);
    std::string y = scenario_yaml(socket_path_);
    y.replace(y.find("workers: 1"), 10, "workers: 2");                   // restart-only
    y.replace(y.find("      - {identity: client-c"), 0, "      - {identity: client-n, private_ip: 10.0.1.7, "
                                                         "mask: 255.255.255.0, gateway: 10.0.1.254}\n");
    y.replace(y.find("name: Client B"), 14, "name: Client Bee");  // changed
    write_config(y);
    const std::string ans = socket_request(socket_path_, "{\"cmd\":\"reload\"}\n");
    EXPECT_NE(ans.find("\"ok\":true"), std::string::npos) << ans;
    const std::string log = log_text();
    EXPECT_NE(log.find("INFO  reloaded " + config_path_ + " (rustunctl reload): 1 added, 0 removed, 1 changed, 0 re-keyed"),
              std::string::npos)
        << log;
    const std::string st = status();
    EXPECT_NE(st.find("\"result\":\"ok\",\"trigger\":\"rustunctl reload\",\"added\":1,\"removed\":0,\"changed\":1,"
                      "\"rekeyed\":0}"),
              std::string::npos)
        << st;
    EXPECT_NE(st.find("\"restart_pending\":[\"controlplane.workers\"]"), std::string::npos) << st;
    EXPECT_EQ(st.find("\"error\":"), std::string::npos) << st;
}

// A dataplane of another channel version: not attached, a warning naming both versions, and the
// reason in status (it used to be a debug line while the UDP relay silently stayed off).
TEST_F(Status, AChannelOfAnotherVersionIsAWarningAndItsReasonIsInStatus) {
    auto dp = dataplane_segment("v0.9-old");
    ASSERT_TRUE(dp);
    dp->header().version = shm::kChannelVersion - 1;
    start_with_channel();
    const std::string want = "channel version " + std::to_string(shm::kChannelVersion - 1) + ", expected " +
                             std::to_string(shm::kChannelVersion) + " (dataplane v0.9-old";
    ASSERT_TRUE(wait_status(want)) << status();
    const std::string st = status();
    EXPECT_NE(st.find("\"dataplane\":\"not attached\""), std::string::npos) << st;
    EXPECT_NE(st.find("\"dataplane_error\":\"channel " + chan_path_ + ": " + want), std::string::npos) << st;
    EXPECT_EQ(st.find("\"dataplane_version\""), std::string::npos) << st;
    const std::string log = log_text();
    EXPECT_NE(log.find("WARN  dataplane of another release (control plane " + std::string(kVersion) + "): "),
              std::string::npos)
        << log;
    EXPECT_NE(log.find(want), std::string::npos) << log;
    EXPECT_EQ(counter(Counter::dataplane_attached), 0u);
}

TEST_F(Status, TheAttachedDataplanesVersionIsShownAndADifferentBuildIsAWarning) {
    auto dp = dataplane_segment("v0.9-other-build");
    ASSERT_TRUE(dp);
    start_with_channel();
    ASSERT_TRUE(wait_status("\"dataplane\":\"attached\"")) << status();
    std::string st = status();
    EXPECT_NE(st.find("\"dataplane_version\":\"v0.9-other-build\""), std::string::npos) << st;
    EXPECT_NE(st.find("\"version_warning\":\"the dataplane runs v0.9-other-build, the control plane " +
                      std::string(kVersion) + "\""),
              std::string::npos)
        << st;
    EXPECT_NE(log_text().find("dataplane version v0.9-other-build differs from the control plane's"), std::string::npos);
    // The same build: no warning.
    dp.reset();
    dp = dataplane_segment(kVersion);
    ASSERT_TRUE(wait_status("\"dataplane_version\":\"" + std::string(kVersion) + "\"")) << status();
    EXPECT_EQ(status().find("version_warning"), std::string::npos) << status();
}

}  // namespace
}  // namespace rustun::cp::test
