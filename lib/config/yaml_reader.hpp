// Turns YAML nodes into typed configuration values whose errors name the file, line, column and
// key path (the reading half of the YAML loader, yaml_loader.cpp). Internal to lib/config.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/address.hpp"
#include "config/config_keys.hpp"
#include "config/source_ref.hpp"
#include "config/yaml_loader.hpp"
#include "util/result.hpp"

namespace rustun::config_yaml {

// "path.key" ("key" at the top level).
std::string join(const std::string& path, std::string_view key);
// "path[i]".
std::string index_path(const std::string& path, size_t i);
// What a node is, for errors: "an empty value", "a list", "a mapping", "a scalar".
const char* kind_of(const YAML::Node& n);

// Unquoted IPv6 text is YAML syntax: `[::1]:7000` starts a flow list (a parse error or a list) and
// `::` is a mapping indicator. The hint appended to the errors these symptoms cause:
inline constexpr const char* kQuoteIpv6Hint =
    " (quote IPv6 addresses: \"[2001:db8::1]:7000\", \"2001:db8::1\")";
// True if the YAML source line `line` has a value that is unquoted IPv6 text ("key: [fd00::1]:80",
// "- [::1]:80", "key: ::"): the symptom behind a parse error on that line.
bool line_has_unquoted_ipv6(std::string_view line);
// True if `n` is what YAML makes of an unquoted "[ipv6]" or "[ipv6]:port": a list of one scalar
// holding a ':' (or a mapping inside that list).
bool node_is_unquoted_ipv6(const YAML::Node& n);

// A mapping whose keys were checked: each key appears once and is one of the known keys.
class Fields {
public:
    struct Entry {
        YAML::Node key;
        YAML::Node value;
    };

    const YAML::Node& node() const { return node_; }
    const std::string& path() const { return path_; }
    const Entry* get(std::string_view key) const {
        for (const auto& [k, e] : entries_)
            if (k == key) return &e;
        return nullptr;
    }

private:
    friend class YamlReader;
    YAML::Node node_;
    std::string path_;
    std::vector<std::pair<std::string, Entry>> entries_;
};

// Turns YAML nodes into typed values, with errors located in `file_`.
class YamlReader {
public:
    // `check`: where every error and warning goes (a check); null for a load, which stops at the
    // first error.
    YamlReader(std::string file, ConfigCheck* check) : file_(std::move(file)), check_(check) {}

    const std::string& file() const { return file_; }

    // Whether reading goes on after a key's or an element's `error`: when checking, the error is
    // recorded and the key or element skipped; when loading, the caller returns it.
    bool go_on(const Error& error) const {
        if (check_ != nullptr) check_->errors.push_back(error.message);
        return check_ != nullptr;
    }
    // Records a warning at `where` when checking.
    void warn(const SourceRef& where, std::string_view what) const {
        if (check_ != nullptr) check_->warnings.push_back(where.to_string() + ": " + std::string(what));
    }

    // Location of `n`; a node without a mark (an implicit empty value) uses `fallback`'s.
    SourceRef at(const YAML::Node& n, std::string path,
                 const YAML::Node* fallback = nullptr) const {
        YAML::Mark m = n.Mark();
        if (m.is_null() && fallback != nullptr) m = fallback->Mark();
        if (m.is_null()) return SourceRef{file_, 0, 0, std::move(path)};
        return SourceRef{file_, static_cast<uint32_t>(m.line + 1),
                         static_cast<uint32_t>(m.column + 1), std::move(path)};
    }
    SourceRef at(const Fields::Entry& e, std::string path) const {
        return at(e.value, std::move(path), &e.key);
    }

    // `n` as a mapping whose keys are all in `known_keys` (child_keys() of its table path).
    Result<Fields> map(const YAML::Node& n, const std::string& path, const KeyNames& known_keys,
                       const YAML::Node* fallback) const;

    // A required key: its entry, or "<mapping location>: <path.key>: missing required key (expected
    // ...)".
    Result<const Fields::Entry*> required(const Fields& f, std::string_view key,
                                          std::string_view expected) const;

    // A scalar's text; `expected` describes the wanted value in the error for a non-scalar.
    Result<std::string> string(const Fields::Entry& e, const std::string& path,
                               std::string_view expected = "a string") const;

    // A non-empty scalar's text; `if_empty` is the error for an empty one.
    Result<std::string> nonempty_string(const Fields::Entry& e, const std::string& path,
                                        std::string_view expected, std::string_view if_empty) const;

    // Decimal integer in [lo, hi].
    Result<uint64_t> integer(const Fields::Entry& e, const std::string& path, uint64_t lo,
                             uint64_t hi) const;

    // Seconds as "N" or "N.fff" (at most 3 decimals), > 0 and <= 86400; returned in milliseconds.
    Result<std::chrono::milliseconds> seconds(const Fields::Entry& e,
                                              const std::string& path) const;

    // A list, or an empty value standing for an empty list.
    Result<std::vector<YAML::Node>> list(const Fields::Entry& e, const std::string& path) const;

private:
    std::string file_;
    ConfigCheck* check_;
};

// A socket address "a.b.c.d:port" or "[ipv6]:port" (listen.tcp, metrics.listen, fleet.link.listen).
Result<SocketAddress> read_socket_address(const YamlReader& r, const Fields::Entry& e,
                                          const std::string& path);

}  // namespace rustun::config_yaml
