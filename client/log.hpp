// rustun-client logging: one line per event on stderr ("2026-01-01T12:00:00.123Z INFO text").
// Never called per packet on the data path (only on events: state changes, errors).
#pragma once

#include <string_view>

namespace rustun::client {

enum class Level : int { Trace = 0, Debug = 1, Info = 2, Warn = 3, Error = 4, Off = 5 };

bool parse_level(std::string_view text, Level& out);
void set_level(Level l);
Level level();
void logf(Level l, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace rustun::client

#define CLOG(lvl, ...)                                                                        \
    do {                                                                                      \
        if (static_cast<int>(lvl) >= static_cast<int>(::rustun::client::level()))          \
            ::rustun::client::logf(lvl, __VA_ARGS__);                                         \
    } while (0)
#define CLOG_ERROR(...) CLOG(::rustun::client::Level::Error, __VA_ARGS__)
#define CLOG_WARN(...) CLOG(::rustun::client::Level::Warn, __VA_ARGS__)
#define CLOG_INFO(...) CLOG(::rustun::client::Level::Info, __VA_ARGS__)
#define CLOG_DEBUG(...) CLOG(::rustun::client::Level::Debug, __VA_ARGS__)
