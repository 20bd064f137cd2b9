// Logs that scale (docs/controlplane.md, "Logs"): per-client events are debug lines, counted
// into one info summary per interval.
#include <gtest/gtest.h>

#include <cstdio>

#include "event_summary.hpp"
#include "harness.hpp"

namespace rustun::cp::test {
namespace {

// Captures log lines for the life of the object.
struct LogCapture {
    std::FILE* f = std::tmpfile();
    explicit LogCapture(LogLevel level) {
        set_log_sink(f);
        set_log_level(level);
    }
    ~LogCapture() {
        set_log_sink(stderr);
        set_log_level(LogLevel::Warn);
        std::fclose(f);
    }
    std::string text() {
        std::fflush(f);
        std::rewind(f);
        std::string s;
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
        return s;
    }
};

size_t count_of(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
    return n;
}

TEST(EventSummary, OneLinePerIntervalAndNoneWhenQuiet) {
    LogCapture log(LogLevel::Info);
    EventSummary s;
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(s.tick(t0), "");  // starts the clock
    for (int i = 0; i < 1000; ++i) s.add(EventSummary::Event::Connect);
    s.add(EventSummary::Event::Binding);
    EXPECT_EQ(s.tick(t0 + std::chrono::seconds(5)), "");  // not yet
    EXPECT_EQ(s.tick(t0 + std::chrono::seconds(10)), "last 10 s: 1000 connects, 0 disconnects, 1 UDP bindings");
    EXPECT_EQ(s.tick(t0 + std::chrono::seconds(20)), "");  // nothing happened: no line
    EXPECT_EQ(count_of(log.text(), "last 10 s:"), 1u);
}

class EventSummaryGateway : public GatewayFixture {};

TEST_F(EventSummaryGateway, AThousandConnectsWriteNoPerClientInfoLineAndOneSummary) {
    start();
    LogCapture log(LogLevel::Info);
    const auto t0 = std::chrono::steady_clock::now();
    gw_->event_summary().tick(t0);
    const char* ids[] = {"client-a", "client-b", "client-c"};
    std::vector<std::unique_ptr<FrameStream>> keep;
    for (int i = 0; i < 1000; ++i) {
        auto s = join(ids[i % 3], i % 2 ? Dialect::Old : Dialect::New);  // each replaces the older one
        ASSERT_NE(s, nullptr) << "connect " << i << "\n" << log.text();
        keep.push_back(std::move(s));
        if (keep.size() > 16) keep.erase(keep.begin());
    }
    const std::string line = gw_->event_summary().tick(t0 + EventSummary::kSummaryInterval);
    EXPECT_EQ(line.rfind("last 10 s: 1000 connects, ", 0), 0u) << line;
    const std::string text = log.text();
    EXPECT_EQ(count_of(text, "handshake: '"), 0u);
    EXPECT_EQ(count_of(text, "' offline ("), 0u);
    EXPECT_EQ(count_of(text, "connected again"), 0u);
    EXPECT_EQ(count_of(text, "INFO"), 1u) << text.substr(0, 2000);
}

}  // namespace
}  // namespace rustun::cp::test
