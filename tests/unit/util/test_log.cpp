#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <regex>
#include <string>

#include "util/log.hpp"

namespace rustun {
namespace {

// Captures the logger's lines in a temporary file; restores the defaults afterwards.
class LogCapture : public ::testing::Test {
protected:
    void SetUp() override {
        f_ = std::tmpfile();
        ASSERT_NE(f_, nullptr);
        set_log_sink(f_);
    }
    void TearDown() override {
        set_log_sink(nullptr);
        set_log_level(LogLevel::Info);
        set_log_format(LogFormat::Text);
        set_log_process("");
        std::fclose(f_);
    }
    std::string text() {
        std::fflush(f_);
        std::rewind(f_);
        std::string s;
        char b[4096];
        size_t n;
        while ((n = std::fread(b, 1, sizeof b, f_)) > 0) s.append(b, n);
        return s;
    }
    std::FILE* f_ = nullptr;
};

TEST_F(LogCapture, TextLineWithoutTagIsTheControlPlaneFormat) {
    LOG_WARN("peer %s gone (%d)", "a", 3);
    EXPECT_TRUE(std::regex_match(text(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z WARN  peer a gone \(3\)\n)")))
        << text();
}

TEST_F(LogCapture, ProcessTagAndLevelFilter) {
    set_log_process("rustun-dataplane");
    set_log_level(LogLevel::Warn);
    LOG_INFO("filtered");
    LOG_ERROR("kept");
    const std::string t = text();
    EXPECT_EQ(t.find("filtered"), std::string::npos);
    EXPECT_NE(t.find("Z ERROR rustun-dataplane: kept\n"), std::string::npos) << t;
}

TEST_F(LogCapture, JournaldPriorityPrefix) {
    set_log_format(LogFormat::Journald);
    set_log_process("rustun-client");
    set_log_level(LogLevel::Trace);
    LOG_ERROR("e");
    LOG_WARN("w");
    LOG_INFO("i");
    LOG_DEBUG("d");
    EXPECT_EQ(text(), "<3>rustun-client: e\n<4>rustun-client: w\n<6>rustun-client: i\n<7>rustun-client: d\n");
}

TEST_F(LogCapture, JsonLinesEscapeTheMessage) {
    set_log_format(LogFormat::Json);
    set_log_process("rustun-controlplane");
    LOG_INFO("say \"%s\"\tnow", "hi");
    EXPECT_TRUE(std::regex_match(
        text(), std::regex(R"(\{"ts":"[0-9T:.\-]+Z","level":"info","process":"rustun-controlplane","msg":"say \\"hi\\"\\tnow"\}\n)")))
        << text();
}

TEST_F(LogCapture, LongLinesAreCutAndTerminated) {
    std::string big(3000, 'x');
    LOG_INFO("%s", big.c_str());
    const std::string t = text();
    EXPECT_EQ(t.size(), kMaxLogLine - 1);
    EXPECT_EQ(t.back(), '\n');
}

TEST_F(LogCapture, RateLimitReportsSuppressedLines) {
    for (int i = 0; i < 25; ++i) LOG_LIMITED(LogLevel::Warn, "flood %d", i);
    const std::string t = text();
    size_t lines = 0;
    for (char c : t) lines += c == '\n';
    EXPECT_EQ(lines, 20u);  // the burst
    LogRateLimit rl(1000.0, 1.0);
    uint64_t supp = 0;
    EXPECT_TRUE(rl.allow(supp));
    EXPECT_FALSE(rl.allow(supp));
    while (!rl.allow(supp)) {
    }
    EXPECT_GE(supp, 1u);
}

TEST(LogParse, LevelsAndFormats) {
    LogLevel l;
    EXPECT_TRUE(log_level_from_string("warning", l));
    EXPECT_EQ(l, LogLevel::Warn);
    EXPECT_TRUE(log_level_from_string("off", l));
    EXPECT_EQ(l, LogLevel::Off);
    EXPECT_FALSE(log_level_from_string("INFO", l));
    LogFormat f;
    EXPECT_TRUE(log_format_from_string("json", f));
    EXPECT_EQ(f, LogFormat::Json);
    EXPECT_TRUE(log_format_from_string("journald", f));
    EXPECT_EQ(f, LogFormat::Journald);
    EXPECT_TRUE(log_format_from_string("journal", f));
    EXPECT_EQ(f, LogFormat::Journald);
    EXPECT_FALSE(log_format_from_string("syslog", f));
}

TEST_F(LogCapture, FieldsAreAKeyValueSuffixInText) {
    LOG_INFO_F(log_fields("IDENTITY", std::string("alice"), "CLUSTER", "c1"), "handshake from %s", "1.2.3.4:5");
    EXPECT_TRUE(std::regex_match(text(), std::regex(R"(\S+Z INFO  handshake from 1\.2\.3\.4:5 IDENTITY=alice CLUSTER=c1\n)")))
        << text();
}

TEST_F(LogCapture, FieldValuesThatCouldForgeALineOrAFieldAreQuoted) {
    LOG_WARN_F(log_fields("IDENTITY", "a b\nX=1 \"q\"\\", "CLUSTER", ""), "unknown");
    EXPECT_NE(text().find(R"(unknown IDENTITY="a b\x0aX=1 \"q\"\\" CLUSTER=""
)"),
              std::string::npos)
        << text();
}

TEST_F(LogCapture, ControlBytesInTheMessageCannotStartANewLine) {
    set_log_format(LogFormat::Journald);
    LOG_WARN("unknown identity '%s'", "x\n<3>forged\r");
    EXPECT_EQ(text(), "<4>unknown identity 'x?<3>forged?'\n");
}

TEST_F(LogCapture, FieldsInJournaldModeStayInTheMessage) {
    set_log_format(LogFormat::Journald);
    set_log_process("rustun-controlplane");
    LOG_ERROR_F(log_fields("IDENTITY", "bob"), "offline");
    EXPECT_EQ(text(), "<3>rustun-controlplane: offline IDENTITY=bob\n");
}

TEST_F(LogCapture, FieldsAreLowerCaseJsonMembers) {
    set_log_format(LogFormat::Json);
    LOG_INFO_F(log_fields("IDENTITY", "alice", "ENDPOINT", "[::1]:7"), "bound");
    EXPECT_TRUE(std::regex_match(
        text(), std::regex(R"(\{"ts":"[0-9T:.\-]+Z","level":"info","msg":"bound","identity":"alice","endpoint":"\[::1\]:7"\}\n)")))
        << text();
}

TEST_F(LogCapture, RateLimitedLinesCarryTheirFields) {
    LOG_LIMITED_F(LogLevel::Warn, log_fields("IDENTITY", "x"), "refused %d", 1);
    EXPECT_NE(text().find("refused 1 IDENTITY=x\n"), std::string::npos) << text();
}

TEST_F(LogCapture, FieldsAreCutWithTheLine) {
    std::string big(2000, 'v');
    LOG_INFO_F(log_fields("K", big), "m");
    const std::string t = text();
    EXPECT_EQ(t.size(), kMaxLogLine - 1);
    EXPECT_EQ(t.back(), '\n');
}

// JOURNAL_STREAM names stderr's device:inode when systemd connected stderr to the journal.
TEST(LogDefaultFormat, JournalOnlyWhenStderrIsTheJournalStream) {
    struct stat st {};
    ASSERT_EQ(::fstat(STDERR_FILENO, &st), 0);
    const std::string mine = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
    ::unsetenv("JOURNAL_STREAM");
    EXPECT_EQ(default_log_format(), LogFormat::Text);
    ::setenv("JOURNAL_STREAM", mine.c_str(), 1);
    EXPECT_EQ(default_log_format(), LogFormat::Journald);
    ::setenv("JOURNAL_STREAM", (std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1)).c_str(), 1);
    EXPECT_EQ(default_log_format(), LogFormat::Text);  // inherited, but stderr is elsewhere
    ::setenv("JOURNAL_STREAM", "garbage", 1);
    EXPECT_EQ(default_log_format(), LogFormat::Text);
    ::unsetenv("JOURNAL_STREAM");
}

}  // namespace
}  // namespace rustun
