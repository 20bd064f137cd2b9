#include "config/config_keys.hpp"

namespace rustun {

const char* reload_policy_name(ReloadPolicy p) {
    switch (p) {
        case ReloadPolicy::Reloadable: return "reloadable";
        case ReloadPolicy::RestartOnly: return "restart-only";
        case ReloadPolicy::Identity: return "identity";
    }
    return "?";
}

const ConfigKey* find_config_key(std::string_view path) {
    for (const ConfigKey& k : kConfigKeys)
        if (k.path == path) return &k;
    return nullptr;
}

namespace {

// Milliseconds as the seconds a user writes: 20000 -> "20", 2500 -> "2.5", 1 -> "0.001".
std::string seconds_text(uint64_t ms) {
    std::string out = std::to_string(ms / 1000);
    uint64_t frac = ms % 1000;
    if (frac == 0) return out;
    out += '.';
    for (uint64_t scale = 100; frac != 0; scale /= 10) {
        out += static_cast<char>('0' + frac / scale);
        frac %= scale;
    }
    return out;
}

// `s` in Markdown code quotes.
std::string code(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 2);
    out += '`';
    out.append(s);
    out += '`';
    return out;
}

}  // namespace

ConfigKeyDoc document_config_key(const ConfigKey& k) {
    ConfigKeyDoc d;
    d.key = code(k.path);
    d.type = k.kind == KeyKind::Integer
                 ? "integer " + std::to_string(k.min) + ".." + std::to_string(k.max)
                 : std::string(k.type);
    if (!k.note.empty())
        d.default_value = k.note;
    else if (k.kind == KeyKind::Integer)
        d.default_value = code(std::to_string(k.number));
    else if (k.kind == KeyKind::Seconds)
        d.default_value = code(seconds_text(k.number));
    else
        d.default_value = code(k.text);
    d.reload = reload_policy_name(k.policy);
    return d;
}

}  // namespace rustun
