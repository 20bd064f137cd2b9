#include "util/cli.hpp"

#include <getopt.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "util/version.hpp"

namespace rustun::cli {

namespace {

// getopt_long's `val` of the i-th option of the table (above every short letter).
constexpr int kLongVal = 1000;

const Option kHelpOption{"help", 'h', nullptr, "print this help and exit"};
const Option kVersionOption{"version", 'V', nullptr, "print the version and exit"};

std::vector<Option> all_options(const Spec& spec) {
    std::vector<Option> v = spec.options;
    v.push_back(kHelpOption);
    v.push_back(kVersionOption);
    return v;
}

// "-c/--config", "--log-level" or "-c": how messages name an option.
std::string display_name(const Option& o) {
    std::string s;
    if (o.short_name) s = std::string("-") + o.short_name;
    if (o.long_name) s += (s.empty() ? "--" : "/--") + std::string(o.long_name);
    return s;
}

std::string prefix(const Spec& spec) {
    return spec.command.empty() ? spec.program : spec.program + " " + spec.command;
}

// The canonical (long) name an option is recorded under: its target's if it is an alias.
std::string record_name(const Option& o) {
    if (o.alias_of) return o.alias_of;
    return o.long_name ? o.long_name : std::string(1, o.short_name);
}

const Option* target_of(const std::vector<Option>& opts, const Option& alias) {
    for (const Option& o : opts)
        if (o.long_name && std::strcmp(o.long_name, alias.alias_of) == 0) return &o;
    return nullptr;
}

}  // namespace

bool Parsed::has(std::string_view long_name) const {
    for (const auto& [k, v] : given)
        if (k == long_name) return true;
    return false;
}

std::string Parsed::value(std::string_view long_name, std::string fallback) const {
    for (auto it = given.rbegin(); it != given.rend(); ++it)
        if (it->first == long_name) return it->second;
    return fallback;
}

Result<uint64_t> Parsed::uint(std::string_view long_name, uint64_t min, uint64_t max, uint64_t fallback) const {
    if (!has(long_name)) return fallback;
    const std::string s = value(long_name);
    const std::string what = "--" + std::string(long_name) + ": expected an integer " + std::to_string(min) + ".." +
                             std::to_string(max) + ", got '" + s + "'";
    if (s.empty() || s.size() > 20 || s.find_first_not_of("0123456789") != std::string::npos) return make_error(what);
    errno = 0;
    const unsigned long long v = std::strtoull(s.c_str(), nullptr, 10);
    if (errno != 0 || v < min || v > max) return make_error(what);
    return static_cast<uint64_t>(v);
}

Result<double> Parsed::number(std::string_view long_name, double min, double max, double fallback) const {
    if (!has(long_name)) return fallback;
    const std::string s = value(long_name);
    char* end = nullptr;
    errno = 0;
    const double v = s.empty() ? NAN : std::strtod(s.c_str(), &end);
    if (s.empty() || errno != 0 || *end != '\0' || !std::isfinite(v) || v < min || v > max) {
        char range[96];
        std::snprintf(range, sizeof range, "%g..%g", min, max);
        return make_error("--" + std::string(long_name) + ": expected a number " + range + ", got '" + s + "'");
    }
    return v;
}

std::string help_text(const Spec& spec) {
    std::string t = "usage: " + prefix(spec) + (spec.usage.empty() ? "" : " " + spec.usage) + "\n";
    if (!spec.about.empty()) t += "\n" + spec.about + (spec.about.back() == '\n' ? "" : "\n");
    std::vector<std::pair<std::string, const char*>> rows;
    size_t width = 0;
    for (const Option& o : all_options(spec)) {
        if (o.alias_of) continue;
        std::string left = o.short_name ? std::string("-") + o.short_name + (o.long_name ? ", " : "") : "    ";
        if (o.long_name) {
            left += "--";
            left += o.long_name;
        }
        if (o.arg) {
            left += ' ';
            left += o.arg;
        }
        if (left.size() <= 28) width = std::max(width, left.size());
        rows.emplace_back(std::move(left), o.help);
    }
    t += "\nOptions:\n";
    const std::string pad(2 + width + 2, ' ');
    for (const auto& [left, help] : rows) {
        std::string line = "  " + left;
        if (left.size() > width) line += "\n" + pad;
        else line += std::string(width - left.size() + 2, ' ');
        // Continuation lines of a multi-line help align with its first line.
        for (const char* p = help; *p; ++p) {
            line += *p;
            if (*p == '\n' && p[1]) line += pad;
        }
        t += line + (line.back() == '\n' ? "" : "\n");
    }
    if (!spec.epilog.empty()) t += "\n" + spec.epilog + (spec.epilog.back() == '\n' ? "" : "\n");
    return t;
}

int usage_error(const Spec& spec, const std::string& message, FILE* err) {
    std::fprintf(err, "%s: %s (try --help)\n", prefix(spec).c_str(), message.c_str());
    return 2;
}

std::optional<int> parse(const Spec& spec, int argc, char** argv, Parsed& out, int first, FILE* out_stream,
                         FILE* err_stream) {
    out = Parsed{};
    const std::vector<Option> opts = all_options(spec);

    // The arguments getopt sees: argv[0], then argv[first..) up to the first "--" when that
    // starts the EAL arguments (kept out of getopt's permutation).
    std::vector<char*> args{argc > 0 ? argv[0] : const_cast<char*>("")};
    int end = argc;
    if (spec.eal_after_dashdash)
        for (int i = first; i < argc; ++i)
            if (std::strcmp(argv[i], "--") == 0) {
                end = i;
                for (int j = i + 1; j < argc; ++j) out.rest.emplace_back(argv[j]);
                break;
            }
    for (int i = first; i < end; ++i) args.push_back(argv[i]);
    const int n = static_cast<int>(args.size());
    args.push_back(nullptr);

    std::string shorts = spec.stop_at_operand ? "+:" : ":";
    std::vector<option> longs;
    for (size_t i = 0; i < opts.size(); ++i) {
        const Option& o = opts[i];
        const int has_arg = o.arg ? required_argument : no_argument;
        const Option* t = o.alias_of ? target_of(opts, o) : nullptr;
        const int takes = (t ? t->arg : o.arg) ? required_argument : no_argument;
        if (o.short_name) shorts += std::string(1, o.short_name) + (takes == required_argument ? ":" : "");
        if (o.long_name) longs.push_back({o.long_name, t ? takes : has_arg, nullptr, kLongVal + static_cast<int>(i)});
    }
    longs.push_back({nullptr, 0, nullptr, 0});

    const int saved_opterr = opterr;
    opterr = 0;
    optind = 0;  // GNU: full re-initialisation (a second parse, a subcommand's options)
    auto finish = [&](std::optional<int> code) {
        opterr = saved_opterr;
        return code;
    };
    auto find = [&](int val) -> const Option* {
        if (val >= kLongVal && val - kLongVal < static_cast<int>(opts.size())) return &opts[val - kLongVal];
        for (const Option& o : opts)
            if (o.short_name && o.short_name == val) return &o;
        return nullptr;
    };
    for (;;) {
        const int c = getopt_long(n, args.data(), shorts.c_str(), longs.data(), nullptr);
        if (c == -1) break;
        if (c == '?') {
            if (optopt >= kLongVal) {
                const Option* o = find(optopt);
                return finish(usage_error(spec, "option '--" + std::string(o ? o->long_name : "?") + "' takes no value", err_stream));
            }
            if (optopt != 0) return finish(usage_error(spec, "unknown option '-" + std::string(1, static_cast<char>(optopt)) + "'", err_stream));
            std::string bad = optind > 0 && optind <= n ? args[optind - 1] : "?";
            if (auto eq = bad.find('='); eq != std::string::npos) bad.resize(eq);
            return finish(usage_error(spec, "unknown option '" + bad + "'", err_stream));
        }
        if (c == ':') {
            const Option* o = find(optopt);
            const Option* t = o && o->alias_of ? target_of(opts, *o) : o;
            return finish(usage_error(spec,
                                      "option '" + (o ? display_name(*o) : std::string("?")) + "' needs an argument" +
                                          (t && t->arg ? std::string(" (") + t->arg + ")" : std::string()),
                                      err_stream));
        }
        const Option* o = find(c);
        if (o == nullptr) return finish(usage_error(spec, "internal error: option table", err_stream));
        if (o->alias_of) {
            const Option* t = target_of(opts, *o);
            std::fprintf(err_stream, "%s: warning: '%s' is deprecated, use %s\n", prefix(spec).c_str(),
                         display_name(*o).c_str(), t ? display_name(*t).c_str() : o->alias_of);
        }
        if (o->long_name && std::strcmp(o->long_name, "help") == 0 && !o->alias_of) {
            std::fputs(help_text(spec).c_str(), out_stream);
            return finish(0);
        }
        if (o->long_name && std::strcmp(o->long_name, "version") == 0 && !o->alias_of) {
            std::fprintf(out_stream, "%s %s\n", spec.program.c_str(), kVersion);
            return finish(0);
        }
        out.given.emplace_back(record_name(*o), optarg ? optarg : "");
    }
    // Not permuted with stop_at_operand ('+'): args[k] is argv[first + k - 1].
    out.operand_index = optind < n ? first + optind - 1 : argc;
    for (int i = optind; i < n; ++i) out.operands.emplace_back(args[i]);
    if (!out.operands.empty() && !spec.operands_allowed && !spec.stop_at_operand)
        return finish(usage_error(spec, "unexpected argument '" + out.operands.front() + "'", err_stream));
    return finish(std::nullopt);
}

}  // namespace rustun::cli
