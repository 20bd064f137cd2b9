// Logging for the control plane: one line per event on stderr, with a level filter and a
// per-event-kind rate limit for anything a client can trigger (so a flood of bad handshakes
// cannot flood the log). Never used per relayed frame.
#pragma once

#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <string_view>

#include "config/config.hpp"  // LogLevel (trace < debug < info < warn < error < off)

namespace rustun::cp {

// Parses "trace", "debug", "info", "warn", "error", "off"; returns false for anything else.
bool log_level_from_string(std::string_view text, LogLevel& out);

// Lines below `level` are not written.
void set_log_level(LogLevel level);
LogLevel log_level();

// printf-style; prefixes an ISO-8601 UTC timestamp and the level.
void log_msg(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// Token bucket for one event kind: at most `burst` lines, refilled at `per_second`.
// Thread-safe; lines dropped by the limit are counted and reported in the next line that passes.
class LogRateLimit {
public:
    LogRateLimit(double per_second, double burst) : rate_(per_second), burst_(burst) {}
    // True if a line may be logged now; `suppressed` receives the lines dropped since the last
    // line that passed.
    bool allow(uint64_t& suppressed);

private:
    double rate_;
    double burst_;
    std::atomic<uint64_t> suppressed_{0};
    // Guarded by a spinlock flag: only contended when clients misbehave at high rate.
    std::atomic_flag lock_ = ATOMIC_FLAG_INIT;
    double tokens_ = -1;  // < 0: not yet initialised (full bucket on first use)
    uint64_t last_ns_ = 0;
};

}  // namespace rustun::cp

#define RLOG(level, ...)                                                              \
    do {                                                                              \
        if (static_cast<int>(level) >= static_cast<int>(::rustun::cp::log_level()))      \
            ::rustun::cp::log_msg(level, __VA_ARGS__);                                    \
    } while (0)
#define LOG_ERROR(...) RLOG(::rustun::LogLevel::Error, __VA_ARGS__)
#define LOG_WARN(...) RLOG(::rustun::LogLevel::Warn, __VA_ARGS__)
#define LOG_INFO(...) RLOG(::rustun::LogLevel::Info, __VA_ARGS__)
#define LOG_DEBUG(...) RLOG(::rustun::LogLevel::Debug, __VA_ARGS__)
#define LOG_TRACE(...) RLOG(::rustun::LogLevel::Trace, __VA_ARGS__)

// Rate-limited variant: one static bucket per call site (10 lines/s, bursts of 20).
#define LOG_LIMITED(level, fmt, ...)                                                  \
    do {                                                                              \
        static ::rustun::cp::LogRateLimit rl_bucket_(10.0, 20.0);                         \
        uint64_t rl_supp_ = 0;                                                        \
        if (static_cast<int>(level) >= static_cast<int>(::rustun::cp::log_level()) &&    \
            rl_bucket_.allow(rl_supp_)) {                                             \
            if (rl_supp_)                                                             \
                ::rustun::cp::log_msg(level, fmt " (%llu similar lines suppressed)",  \
                                      __VA_ARGS__ __VA_OPT__(,)(unsigned long long)rl_supp_); \
            else                                                                      \
                ::rustun::cp::log_msg(level, fmt __VA_OPT__(, ) __VA_ARGS__);           \
        }                                                                             \
    } while (0)
