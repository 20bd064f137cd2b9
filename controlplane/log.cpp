#include "log.hpp"

#include <cstdio>
#include <ctime>

namespace rustun::cp {

static std::atomic<int> g_level{static_cast<int>(LogLevel::Info)};

bool log_level_from_string(std::string_view t, LogLevel& out) {
    if (t == "trace") out = LogLevel::Trace;
    else if (t == "off") out = LogLevel::Off;
    else if (t == "error") out = LogLevel::Error;
    else if (t == "warn" || t == "warning") out = LogLevel::Warn;
    else if (t == "info") out = LogLevel::Info;
    else if (t == "debug") out = LogLevel::Debug;
    else return false;
    return true;
}

void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel log_level() { return static_cast<LogLevel>(g_level.load(std::memory_order_relaxed)); }

void log_msg(LogLevel level, const char* fmt, ...) {
    static const char* names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF"};
    char line[1024];
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    tm t;
    gmtime_r(&ts.tv_sec, &t);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ", t.tm_year + 1900,
                     t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec / 1000000,
                     names[static_cast<int>(level)]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    size_t len = n + (m < 0 ? 0 : (size_t)m < sizeof line - n - 1 ? (size_t)m : sizeof line - n - 2);
    line[len++] = '\n';
    // One write per line so that lines from several threads never interleave.
    fwrite(line, 1, len, stderr);
}

bool LogRateLimit::allow(uint64_t& suppressed) {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
    while (lock_.test_and_set(std::memory_order_acquire)) {
    }
    if (tokens_ < 0) tokens_ = burst_;
    else tokens_ += (double)(now - last_ns_) * 1e-9 * rate_;
    if (tokens_ > burst_) tokens_ = burst_;
    last_ns_ = now;
    bool ok = tokens_ >= 1.0;
    if (ok) tokens_ -= 1.0;
    lock_.clear(std::memory_order_release);
    if (!ok) {
        suppressed_.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
    return true;
}

}  // namespace rustun::cp
