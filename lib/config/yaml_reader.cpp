#include "config/yaml_reader.hpp"

#include <algorithm>
#include <optional>

namespace rustun::config_yaml {

std::string join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
}
std::string index_path(const std::string& path, size_t i) {
    return path + "[" + std::to_string(i) + "]";
}

const char* kind_of(const YAML::Node& n) {
    if (n.IsNull()) return "an empty value";
    if (n.IsSequence()) return "a list";
    if (n.IsMap()) return "a mapping";
    if (n.IsScalar()) return "a scalar";
    return "nothing";
}

bool line_has_unquoted_ipv6(std::string_view line) {
    size_t hash = line.find(" #");
    if (hash != std::string_view::npos) line = line.substr(0, hash);
    // Each value position: after "key: ", after "- ", after "[" or "{" or ", " in flow style.
    for (size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (c == '"' || c == '\'') return false;  // quoted from here on
        const bool value_start = i == 0 || line[i - 1] == ' ' || line[i - 1] == '[' || line[i - 1] == '{';
        if (!value_start) continue;
        // "[hex:...]" with a ':' inside the brackets, or "::" at a value start.
        if (c == '[') {
            size_t close = line.find(']', i);
            std::string_view inner = line.substr(i + 1, close == std::string_view::npos ? std::string_view::npos
                                                                                           : close - i - 1);
            if (inner.find(':') != std::string_view::npos &&
                inner.find_first_not_of("0123456789abcdefABCDEF:.") == std::string_view::npos)
                return true;
        }
        if (line.substr(i, 2) == "::") return true;
    }
    return false;
}

bool node_is_unquoted_ipv6(const YAML::Node& n) {
    if (!n.IsSequence() || n.size() != 1) return false;
    const YAML::Node item = n[0];
    if (item.IsScalar()) return item.Scalar().find(':') != std::string::npos;
    return item.IsMap();  // "[fd00::1]" may read as a one-pair flow mapping
}

Result<Fields> YamlReader::map(const YAML::Node& n, const std::string& path, const KeyNames& known_keys,
                   const YAML::Node* fallback) const {
    std::span<const std::string_view> known = known_keys.span();
    if (!n.IsMap())
        return error_at(at(n, path, fallback),
                        std::string("expected a mapping, got ") + kind_of(n));
    Fields f;
    f.node_ = n;
    f.path_ = path;
    // A bad key is an error; when checking, it is recorded and the key skipped.
    for (const auto& kv : n) {
        const YAML::Node& k = kv.first;
        std::optional<Error> bad;
        if (!k.IsScalar()) {
            bad = error_at(at(k, path), std::string("expected a string key, got ") + kind_of(k));
        } else if (std::find(known.begin(), known.end(), k.Scalar()) == known.end()) {
            std::string list;
            for (std::string_view kn : known) list += (list.empty() ? "" : ", ") + std::string(kn);
            bad = error_at(at(k, join(path, k.Scalar())), "unknown key " + quote_for_error(k.Scalar()) +
                                                              " (expected one of: " + list + ")");
        } else if (f.get(k.Scalar()) != nullptr) {
            bad = error_at(at(k, join(path, k.Scalar())), "key given twice in one mapping");
        }
        if (!bad) {
            f.entries_.emplace_back(k.Scalar(), Fields::Entry{k, kv.second});
        } else if (!go_on(*bad)) {
            return *bad;
        }
    }
    return f;
}

Result<const Fields::Entry*> YamlReader::required(const Fields& f, std::string_view key,
                                      std::string_view expected) const {
    if (const auto* e = f.get(key)) return e;
    return error_at(at(f.node(), join(f.path(), key)),
                    "missing required key (expected " + std::string(expected) + ")");
}

Result<std::string> YamlReader::string(const Fields::Entry& e, const std::string& path,
                           std::string_view expected) const {
    if (!e.value.IsScalar())
        return error_at(at(e, path), "expected " + std::string(expected) + ", got " + kind_of(e.value) +
                                         (node_is_unquoted_ipv6(e.value) ? kQuoteIpv6Hint : ""));
    return e.value.Scalar();
}

Result<std::string> YamlReader::nonempty_string(const Fields::Entry& e, const std::string& path,
                                    std::string_view expected, std::string_view if_empty) const {
    auto s = string(e, path, expected);
    if (s.ok() && s->empty()) return error_at(at(e, path), if_empty);
    return s;
}

Result<uint64_t> YamlReader::integer(const Fields::Entry& e, const std::string& path, uint64_t lo,
                         uint64_t hi) const {
    std::string expected =
        "expected an integer " + std::to_string(lo) + ".." + std::to_string(hi);
    if (!e.value.IsScalar())
        return error_at(at(e, path), expected + ", got " + kind_of(e.value));
    const std::string& s = e.value.Scalar();
    uint64_t v = 0;
    bool ok = !s.empty() && s.size() <= 19;
    for (char c : s) {
        if (c < '0' || c > '9')
            ok = false;
        else
            v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (!ok || v < lo || v > hi)
        return error_at(at(e, path), expected + ", got " + quote_for_error(s));
    return v;
}

Result<std::chrono::milliseconds> YamlReader::seconds(const Fields::Entry& e,
                                          const std::string& path) const {
    static constexpr const char* kExpected =
        "expected a number of seconds > 0 and <= 86400 (at most 3 decimals, e.g. 20 or 0.5)";
    if (!e.value.IsScalar())
        return error_at(at(e, path), std::string(kExpected) + ", got " + kind_of(e.value));
    const std::string& s = e.value.Scalar();
    uint64_t ms = 0;
    size_t dot = s.find('.');
    std::string_view whole = std::string_view(s).substr(0, dot);
    std::string_view frac =
        dot == std::string::npos ? std::string_view() : std::string_view(s).substr(dot + 1);
    bool ok = !whole.empty() && whole.size() <= 6 && frac.size() <= 3 &&
              (dot == std::string::npos || !frac.empty());
    for (char c : whole) {
        if (c < '0' || c > '9')
            ok = false;
        else
            ms = ms * 10 + static_cast<uint64_t>(c - '0');
    }
    ms *= 1000;
    uint64_t scale = 100;
    for (char c : frac) {
        if (c < '0' || c > '9')
            ok = false;
        else
            ms += static_cast<uint64_t>(c - '0') * scale;
        scale /= 10;
    }
    if (!ok || ms == 0 || ms > 86'400'000)
        return error_at(at(e, path), std::string(kExpected) + ", got " + quote_for_error(s));
    return std::chrono::milliseconds(ms);
}

Result<std::vector<YAML::Node>> YamlReader::list(const Fields::Entry& e, const std::string& path) const {
    std::vector<YAML::Node> out;
    if (e.value.IsNull()) return out;
    if (!e.value.IsSequence())
        return error_at(at(e, path), std::string("expected a list, got ") + kind_of(e.value));
    for (const auto& item : e.value) out.push_back(item);
    return out;
}

Result<SocketAddress> read_socket_address(const YamlReader& r, const Fields::Entry& e,
                                          const std::string& path) {
    auto text = r.string(e, path, "\"a.b.c.d:port\" or \"[ipv6]:port\"");
    if (!text.ok()) return Error{text.error()};
    auto a = parse_socket_address(*text);
    if (!a) {
        // "fd00::1:7000": an IPv6 address needs brackets around it (and quotes in YAML).
        const bool bare_v6 = text->find(':') != text->rfind(':') && (*text)[0] != '[';
        return error_at(r.at(e, path), a.error() + ", got " + quote_for_error(*text) + (bare_v6 ? kQuoteIpv6Hint : ""));
    }
    return *a;
}

}  // namespace rustun::config_yaml
