// One logger for every process (control plane, dataplane, client, tools): one line per event on
// stderr, with a level filter, a process tag and a per-call-site rate limit for anything a peer
// can trigger (so a flood of bad handshakes cannot flood the log). Never used per relayed packet.
//
// Line formats (set_log_format), all written with one fwrite so that lines from several
// threads never interleave; a line is cut at kMaxLogLine bytes:
//   Text      2026-01-01T12:00:00.123Z INFO  rustun-dataplane: text
//             (ISO-8601 UTC with milliseconds, the level padded to 5, "tag: " only when set)
//   Journald  <6>rustun-dataplane: text
//             (sd-daemon priority prefix: error 3, warn 4, info 6, debug and trace 7; no
//             timestamp, the journal adds its own)
//   Json      {"ts":"2026-01-01T12:00:00.123Z","level":"info","process":"rustun-dataplane","msg":"text"}
//             (one object per line; "process" only when a tag is set)
//
// Structured fields (log_fields("IDENTITY", id, "CLUSTER", name)): appended as ` KEY=value` to a
// text or journald line (the value quoted, with \" \\ and \xNN escapes, when it is empty or holds a
// space, '"', '=', '\\' or a control character: a peer-chosen identity cannot forge a line or a
// field), and as lower-case members ("identity":"...") after "msg" in JSON. Journald mode keeps
// them in the message text: the `<N>` stream protocol has no fields (docs/operations.md, "Logs").
// In text and journald lines a control byte (but tab) of the message itself becomes '?': one event,
// one line, whatever a peer put into a quoted identity.
#pragma once

#include <atomic>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>

#include "config/config.hpp"  // LogLevel (trace < debug < info < warn < error < off)

namespace rustun {

inline constexpr size_t kMaxLogLine = 1024;  // bytes, newline included

inline constexpr size_t kMaxLogFields = 4;

// One structured field; both views must outlive the log call (temporaries of the call's own
// full-expression do).
struct LogField {
    std::string_view key;  // upper case, journald style: "IDENTITY", "CLUSTER", "ENDPOINT"
    std::string_view value;
};
struct LogFields {
    LogField items[kMaxLogFields];
    size_t count = 0;
};
// log_fields("IDENTITY", id, "CLUSTER", name): key/value pairs, at most kMaxLogFields.
template <typename... A>
LogFields log_fields(A&&... kv) {
    static_assert(sizeof...(A) >= 2 && sizeof...(A) % 2 == 0 && sizeof...(A) / 2 <= kMaxLogFields,
                  "1 to 4 key/value pairs");
    LogFields f;
    std::string_view flat[] = {std::string_view(kv)...};
    for (size_t i = 0; i < sizeof...(A); i += 2) f.items[f.count++] = {flat[i], flat[i + 1]};
    return f;
}

// Parses "trace", "debug", "info", "warn" (or "warning"), "error", "off"; false for anything else.
bool log_level_from_string(std::string_view text, LogLevel& out);
// Parses "text", "journal" (or "journald"), "json"; false for anything else.
bool log_format_from_string(std::string_view text, LogFormat& out);
// The format when none is configured: Journald when stderr is the stream systemd connected to the
// journal (JOURNAL_STREAM="device:inode" equals stderr's, systemd.exec(5)), else Text. A child
// whose stderr was redirected elsewhere inherits the variable but does not match.
LogFormat default_log_format();

// Lines below `level` are not written. Default: Info.
void set_log_level(LogLevel level);
LogLevel log_level();

// Default: Text.
void set_log_format(LogFormat format);
LogFormat log_format();

// The process tag ("rustun-dataplane"), copied; empty (the default) prints none. Set it once at
// start-up, before other threads log.
void set_log_process(std::string_view tag);

// printf-style; one line in the current format (no trailing newline in `fmt`).
void log_msg(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(LogLevel level, const char* fmt, va_list ap) __attribute__((format(printf, 2, 0)));
// The same with structured fields.
void log_msg_fields(LogLevel level, const LogFields& fields, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
void log_vmsg_fields(LogLevel level, const LogFields& fields, const char* fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

// Where lines go (tests): nullptr restores stderr.
void set_log_sink(std::FILE* sink);

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

}  // namespace rustun

#define RLOG(level, ...)                                                              \
    do {                                                                              \
        if (static_cast<int>(level) >= static_cast<int>(::rustun::log_level()))      \
            ::rustun::log_msg(level, __VA_ARGS__);                                    \
    } while (0)
#define LOG_ERROR(...) RLOG(::rustun::LogLevel::Error, __VA_ARGS__)
#define LOG_WARN(...) RLOG(::rustun::LogLevel::Warn, __VA_ARGS__)
#define LOG_INFO(...) RLOG(::rustun::LogLevel::Info, __VA_ARGS__)
#define LOG_DEBUG(...) RLOG(::rustun::LogLevel::Debug, __VA_ARGS__)
#define LOG_TRACE(...) RLOG(::rustun::LogLevel::Trace, __VA_ARGS__)

// With structured fields: LOG_INFO_F(log_fields("IDENTITY", id), "handshake from %s", peer).
#define RLOG_F(level, fields, ...)                                                    \
    do {                                                                              \
        if (static_cast<int>(level) >= static_cast<int>(::rustun::log_level()))      \
            ::rustun::log_msg_fields(level, fields, __VA_ARGS__);                     \
    } while (0)
#define LOG_ERROR_F(fields, ...) RLOG_F(::rustun::LogLevel::Error, fields, __VA_ARGS__)
#define LOG_WARN_F(fields, ...) RLOG_F(::rustun::LogLevel::Warn, fields, __VA_ARGS__)
#define LOG_INFO_F(fields, ...) RLOG_F(::rustun::LogLevel::Info, fields, __VA_ARGS__)
#define LOG_DEBUG_F(fields, ...) RLOG_F(::rustun::LogLevel::Debug, fields, __VA_ARGS__)

// Rate-limited variant: one static bucket per call site (10 lines/s, bursts of 20).
#define LOG_LIMITED(level, fmt, ...) LOG_LIMITED_F(level, ::rustun::LogFields{}, fmt __VA_OPT__(, ) __VA_ARGS__)
#define LOG_LIMITED_F(level, fields, fmt, ...)                                        \
    do {                                                                              \
        static ::rustun::LogRateLimit rl_bucket_(10.0, 20.0);                         \
        uint64_t rl_supp_ = 0;                                                        \
        if (static_cast<int>(level) >= static_cast<int>(::rustun::log_level()) &&    \
            rl_bucket_.allow(rl_supp_)) {                                             \
            if (rl_supp_)                                                             \
                ::rustun::log_msg_fields(level, fields, fmt " (%llu similar lines suppressed)", \
                                  __VA_ARGS__ __VA_OPT__(, )(unsigned long long)rl_supp_); \
            else                                                                      \
                ::rustun::log_msg_fields(level, fields, fmt __VA_OPT__(, ) __VA_ARGS__); \
        }                                                                             \
    } while (0)
