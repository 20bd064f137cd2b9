// rustun-cp-bench (tools/cp_bench/main.cpp): what every mode uses: errors, the clock, the
// command line (Args) and the result line.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rapidjson/document.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "config/yaml_loader.hpp"
#include "crypto/cipher_key.hpp"
#include "crypto/crypto_engine.hpp"
#include "crypto/key_hint.hpp"
#include "proto/frame.hpp"
#include "proto/messages.hpp"
#include "proto/constants.hpp"
#include "util/clock.hpp"          // mono_ns
#include "util/endpoint_text.hpp"  // ipv4_text
#include "util/version.hpp"

namespace rustun::cpbench {

// Prints "rustun-cp-bench: " + the message on stderr and exits 1.
[[noreturn]] void die(const char* fmt, ...);
inline double secs(uint64_t ns) { return static_cast<double>(ns) / 1e9; }
void usage(FILE* f);

struct Args {
    std::string mode;
    std::map<std::string, std::string> kv;
    bool json = false;

    bool has(const std::string& k) const { return kv.count(k) != 0; }
    std::string str(const std::string& k, const std::string& def = "") const {
        auto it = kv.find(k);
        return it == kv.end() ? def : it->second;
    }
    uint64_t num(const std::string& k, uint64_t def, uint64_t lo, uint64_t hi) const {
        auto it = kv.find(k);
        if (it == kv.end()) return def;
        const std::string& s = it->second;
        char* end = nullptr;
        errno = 0;
        unsigned long long v = std::strtoull(s.c_str(), &end, 10);
        if (s.empty() || *end || errno || s[0] == '-') die("--%s: '%s' is not a number", k.c_str(), s.c_str());
        if (v < lo || v > hi)
            die("--%s: %llu is out of range %" PRIu64 "..%" PRIu64, k.c_str(), v, lo, hi);
        return v;
    }
    uint64_t need(const std::string& k, uint64_t lo, uint64_t hi) const {
        if (!has(k)) die("%s: --%s is required (see --help)", mode.c_str(), k.c_str());
        return num(k, 0, lo, hi);
    }
};

Args parse_args(int argc, char** argv);
// Dies on an option of a.kv not in `known`.
void check_known(const Args& a, std::initializer_list<const char*> known);

// The result: one JSON object (--json) or one line.
void print_json_or_line(bool json, const std::string& js, const std::string& line);
std::string fmt(const char* f, ...);

}  // namespace rustun::cpbench
