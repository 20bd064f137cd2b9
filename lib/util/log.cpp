#include "log.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include "proto/json_writer.hpp"
#include "util/clock.hpp"

namespace rustun {

namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::Info)};
std::atomic<int> g_format{static_cast<int>(LogFormat::Text)};
std::atomic<std::FILE*> g_sink{nullptr};
// Written once at start-up (set_log_process), read by every line afterwards.
char g_process[64] = "";

const char* upper_name(LogLevel level) {
    static const char* names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF"};
    return names[static_cast<int>(level)];
}

// sd-daemon(3) priorities: SD_ERR 3, SD_WARNING 4, SD_INFO 6, SD_DEBUG 7.
int journald_priority(LogLevel level) {
    switch (level) {
        case LogLevel::Error: return 3;
        case LogLevel::Warn: return 4;
        case LogLevel::Info: return 6;
        default: return 7;
    }
}

// "2026-01-01T12:00:00.123Z" into b (at least 25 bytes); returns its length.
int utc_timestamp(char* b, size_t n) {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    tm t;
    gmtime_r(&ts.tv_sec, &t);
    return std::snprintf(b, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                         t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec / 1000000);
}

// Formats into b[0..n-1) after `used` bytes; returns the new length, cut to n - 2 (room for \n).
size_t append_vformat(char* b, size_t n, size_t used, const char* fmt, va_list ap) {
    if (used >= n - 2) return n - 2;
    const int m = std::vsnprintf(b + used, n - used - 1, fmt, ap);
    const size_t len = used + (m < 0 ? 0 : static_cast<size_t>(m));
    return len < n - 2 ? len : n - 2;
}

// A field value needs quotes when it is empty or holds a space, '"', '=', '\\' or a control byte.
bool needs_quotes(std::string_view v) {
    if (v.empty()) return true;
    for (unsigned char c : v)
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) return true;
    return false;
}

// Appends " KEY=value" for each field to b[0..n-1) after `used` bytes; the same cut as
// append_vformat. Quoted values escape '"' and '\\' with a backslash and control bytes as \xNN.
size_t append_fields(char* b, size_t n, size_t used, const LogFields& fields) {
    std::string s;
    for (size_t i = 0; i < fields.count; ++i) {
        const LogField& f = fields.items[i];
        s.push_back(' ');
        s.append(f.key);
        s.push_back('=');
        if (!needs_quotes(f.value)) {
            s.append(f.value);
            continue;
        }
        s.push_back('"');
        for (unsigned char c : f.value) {
            if (c == '"' || c == '\\') {
                s.push_back('\\');
                s.push_back(static_cast<char>(c));
            } else if (c < ' ' || c == 0x7f) {
                char esc[5];
                std::snprintf(esc, sizeof esc, "\\x%02x", c);
                s.append(esc);
            } else {
                s.push_back(static_cast<char>(c));
            }
        }
        s.push_back('"');
    }
    if (used >= n - 2) return n - 2;
    const size_t m = s.size() < n - 2 - used ? s.size() : n - 2 - used;
    s.copy(b + used, m);
    return used + m;
}

std::string lower(std::string_view k) {
    std::string s(k);
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

void emit(const char* line, size_t len) {
    std::FILE* f = g_sink.load(std::memory_order_relaxed);
    std::fwrite(line, 1, len, f ? f : stderr);  // one write per line: no interleaving
}

}  // namespace

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

bool log_format_from_string(std::string_view t, LogFormat& out) {
    if (t == "text") out = LogFormat::Text;
    else if (t == "journal" || t == "journald") out = LogFormat::Journald;
    else if (t == "json") out = LogFormat::Json;
    else return false;
    return true;
}

LogFormat default_log_format() {
    const char* js = std::getenv("JOURNAL_STREAM");
    unsigned long long dev = 0, ino = 0;
    if (js == nullptr || std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return LogFormat::Text;
    struct stat st {};
    if (::fstat(STDERR_FILENO, &st) != 0) return LogFormat::Text;
    return st.st_dev == dev && st.st_ino == ino ? LogFormat::Journald : LogFormat::Text;
}

void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel log_level() { return static_cast<LogLevel>(g_level.load(std::memory_order_relaxed)); }
void set_log_format(LogFormat format) { g_format.store(static_cast<int>(format)); }
LogFormat log_format() { return static_cast<LogFormat>(g_format.load(std::memory_order_relaxed)); }
void set_log_sink(std::FILE* sink) { g_sink.store(sink); }

void set_log_process(std::string_view tag) {
    const size_t n = tag.size() < sizeof g_process - 1 ? tag.size() : sizeof g_process - 1;
    tag.copy(g_process, n);
    g_process[n] = '\0';
}

void log_msg(LogLevel level, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}

void log_vmsg(LogLevel level, const char* fmt, va_list ap) { log_vmsg_fields(level, LogFields{}, fmt, ap); }

void log_msg_fields(LogLevel level, const LogFields& fields, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    log_vmsg_fields(level, fields, fmt, ap);
    va_end(ap);
}

void log_vmsg_fields(LogLevel level, const LogFields& fields, const char* fmt, va_list ap) {
    char line[kMaxLogLine];
    size_t len = 0;
    const LogFormat format = log_format();
    if (format == LogFormat::Json) {
        char text[kMaxLogLine];
        const size_t tlen = append_vformat(text, sizeof text, 0, fmt, ap);
        char ts[32];
        const int tsl = utc_timestamp(ts, sizeof ts);
        std::string out;
        out.reserve(tlen + 96);
        JsonWriter w(out);
        w.begin_object();
        w.member("ts", std::string_view(ts, static_cast<size_t>(tsl)));
        w.member("level", log_level_name(level));
        if (g_process[0]) w.member("process", g_process);
        w.member("msg", std::string_view(text, tlen));
        for (size_t i = 0; i < fields.count; ++i) w.member(lower(fields.items[i].key), fields.items[i].value);
        w.end_object();
        out.push_back('\n');
        emit(out.data(), out.size());
        return;
    }
    int n;
    if (format == LogFormat::Journald)
        n = std::snprintf(line, sizeof line, "<%d>", journald_priority(level));
    else {
        n = utc_timestamp(line, sizeof line);
        n += std::snprintf(line + n, sizeof line - static_cast<size_t>(n), " %-5s ", upper_name(level));
    }
    if (g_process[0]) n += std::snprintf(line + n, sizeof line - static_cast<size_t>(n), "%s: ", g_process);
    len = append_vformat(line, sizeof line, static_cast<size_t>(n), fmt, ap);
    // A message may quote peer-chosen text ('%s' of an identity): a control byte in it would end
    // the line early and let the rest pose as a line (with its own <N> priority) of its own.
    for (size_t i = static_cast<size_t>(n); i < len; ++i)
        if (static_cast<unsigned char>(line[i]) < ' ' && line[i] != '\t') line[i] = '?';
    len = append_fields(line, sizeof line, len, fields);
    line[len++] = '\n';
    emit(line, len);
}

bool LogRateLimit::allow(uint64_t& suppressed) {
    const uint64_t now = mono_ns();
    while (lock_.test_and_set(std::memory_order_acquire)) {
    }
    if (tokens_ < 0) tokens_ = burst_;
    else tokens_ += static_cast<double>(now - last_ns_) * 1e-9 * rate_;
    if (tokens_ > burst_) tokens_ = burst_;
    last_ns_ = now;
    const bool ok = tokens_ >= 1.0;
    if (ok) tokens_ -= 1.0;
    lock_.clear(std::memory_order_release);
    if (!ok) {
        suppressed_.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
    return true;
}

}  // namespace rustun
