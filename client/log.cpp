#include "log.hpp"

#include <cstdarg>
#include <cstdio>
#include <ctime>

namespace rustun::client {

namespace {
Level g_level = Level::Info;
const char* name(Level l) {
    switch (l) {
        case Level::Trace: return "TRACE";
        case Level::Debug: return "DEBUG";
        case Level::Info: return "INFO";
        case Level::Warn: return "WARN";
        case Level::Error: return "ERROR";
        default: return "";
    }
}
}  // namespace

bool parse_level(std::string_view t, Level& out) {
    static const struct { const char* n; Level l; } table[] = {
        {"trace", Level::Trace}, {"debug", Level::Debug}, {"info", Level::Info},
        {"warn", Level::Warn},   {"error", Level::Error}, {"off", Level::Off}};
    for (const auto& e : table)
        if (t == e.n) {
            out = e.l;
            return true;
        }
    return false;
}

void set_level(Level l) { g_level = l; }
Level level() { return g_level; }

void logf(Level l, const char* fmt, ...) {
    char line[1024];
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    tm t;
    gmtime_r(&ts.tv_sec, &t);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ", t.tm_year + 1900, t.tm_mon + 1,
                     t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec / 1000000, name(l));
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2) len = sizeof line - 2;
    line[len++] = '\n';
    fwrite(line, 1, len, stderr);
}

}  // namespace rustun::client
