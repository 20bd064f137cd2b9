// rustunctl: the operator's CLI for a running rustun-controlplane, over its control socket
// (JSON lines, docs/controlplane.md; the commands: docs/cli.md). Human-readable tables by
// default, the raw JSON answer with --json. One table of commands (kCommands): a new command is
// one entry (name, operands, options, what it does).
#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <time.h>

#include <cstdio>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "rustunctl_print.hpp"
#include "rustunctl_socket.hpp"
#include "util/cli.hpp"

namespace rustun::ctl {
namespace {

// Options every command takes, before or after its name.
const std::vector<cli::Option> kGlobalOptions = {
    {"socket", 's', "PATH", "control socket (else $RUSTUN_SOCKET, else --config's, else /run/rustun/control.sock)"},
    {"config", 'c', "FILE", "the gateway's YAML: its control_socket is the socket"},
    {"json", 0, nullptr, "print the raw JSON answer"},
};

struct Context {
    std::string socket;
    bool json = false;
};

std::string json_string(const std::string& s) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
    return sb.GetString();
}

// {"cmd":NAME, "k":"v", ...}: the control socket's arguments are strings.
std::string request_line(const std::string& cmd, const std::vector<std::pair<std::string, std::string>>& args = {}) {
    std::string r = "{\"cmd\":" + json_string(cmd);
    for (const auto& [k, v] : args) {
        r += ',';
        r += json_string(k);
        r += ':';
        r += json_string(v);
    }
    r += '}';
    return r;
}

uint64_t now_s() { return static_cast<uint64_t>(::time(nullptr)); }

// Sends `line`; on success `answer` holds the document and its "result" is valid. Else prints
// the error and returns false.
bool call(const Context& ctx, const std::string& line, rapidjson::Document& answer) {
    auto text = request(ctx.socket, line);
    if (!text) {
        std::fprintf(stderr, "rustunctl: %s\n", text.error().c_str());
        return false;
    }
    if (answer.Parse<rapidjson::kParseIterativeFlag>(text->c_str()).HasParseError() || !answer.IsObject() ||
        !answer.HasMember("ok")) {
        std::fprintf(stderr, "rustunctl: unparseable answer: %s\n", text->c_str());
        return false;
    }
    if (!answer["ok"].IsBool() || !answer["ok"].GetBool()) {
        const bool has_error = answer.HasMember("error") && answer["error"].IsString();
        std::fprintf(stderr, "rustunctl: %s\n", has_error ? answer["error"].GetString() : "failed");
        if (ctx.json) std::puts(text->c_str());
        return false;
    }
    return answer.HasMember("result");
}

void print_json(const rapidjson::Value& v) {
    rapidjson::StringBuffer sb;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(sb);
    w.SetIndent(' ', 2);
    v.Accept(w);
    std::puts(sb.GetString());
}

// One request, then the result as JSON (--json) or through `print`.
int answer_with(const Context& ctx, const std::string& line, const std::function<void(const rapidjson::Value&)>& print) {
    rapidjson::Document d;
    if (!call(ctx, line, d)) return 1;
    if (ctx.json) print_json(d["result"]);
    else print(d["result"]);
    return 0;
}

int plain(const Context& ctx, const std::string& line) {
    return answer_with(ctx, line, [](const rapidjson::Value& r) {
        if (r.IsObject()) print_kv(r, now_s());
        else print_json(r);
    });
}

int run_watch(const Context& ctx, const cli::Parsed& a, const cli::Spec& spec) {
    auto interval = a.number("interval", 0.1, 3600, 1);
    auto count = a.uint("count", 1, UINT64_MAX, 0);
    if (!interval) return cli::usage_error(spec, interval.error());
    if (!count) return cli::usage_error(spec, count.error());
    auto sample = [&](CounterSample& s, timespec& at) {
        rapidjson::Document d;
        if (!call(ctx, request_line("stats"), d)) return false;
        clock_gettime(CLOCK_MONOTONIC, &at);
        s = sample_counters(d["result"]);
        return true;
    };
    CounterSample before, after;
    timespec t0{}, t1{};
    if (!sample(before, t0)) return 1;
    for (uint64_t n = 0; *count == 0 || n < *count; ++n) {
        const double secs = *interval;
        timespec pause{static_cast<time_t>(secs), static_cast<long>((secs - static_cast<double>(static_cast<time_t>(secs))) * 1e9)};
        nanosleep(&pause, nullptr);
        if (!sample(after, t1)) return 1;
        const double elapsed = double(t1.tv_sec - t0.tv_sec) + double(t1.tv_nsec - t0.tv_nsec) / 1e9;
        char when[32];
        const time_t wall = ::time(nullptr);
        tm lt{};
        localtime_r(&wall, &lt);
        strftime(when, sizeof when, "%H:%M:%S", &lt);
        std::printf("%s  over %.2f s:\n", when, elapsed);
        print_rates(before, after, elapsed > 0 ? elapsed : 1);
        std::fflush(stdout);
        before = std::move(after);
        t0 = t1;
    }
    return 0;
}

struct Command {
    const char* name;
    const char* operands;  // positional arguments, for the usage line ("IDENTITY")
    size_t operand_count;
    const char* summary;
    std::vector<cli::Option> options;
    // Runs the command; `spec` for its usage errors.
    std::function<int(const Context&, const cli::Parsed&, const cli::Spec&)> run;
};

const std::vector<Command>& commands() {
    static const std::vector<Command> table = {
        {"status", "", 0, "version, uptime, configuration, client and dataplane summary", {},
         [](const Context& c, const cli::Parsed&, const cli::Spec&) { return plain(c, request_line("status")); }},
        {"clients", "", 0, "the configured clients with their state and counters",
         {{"cluster", 0, "NAME", "only the clients of this cluster"},
          {"online", 0, nullptr, "only the clients that are connected"},
          {"limit", 0, "N", "at most N rows (the totals still count every client)"},
          {"all", 0, nullptr, "also the clients online on the fleet's other gateways, with their home gateway"}},
         [](const Context& c, const cli::Parsed& a, const cli::Spec& spec) {
             std::vector<std::pair<std::string, std::string>> args;
             if (a.has("cluster")) args.emplace_back("cluster", a.value("cluster"));
             if (a.has("online")) args.emplace_back("online", "true");
             if (a.has("all")) args.emplace_back("all", "true");
             if (a.has("limit")) {
                 auto n = a.uint("limit", 0, UINT64_MAX, 0);
                 if (!n) return cli::usage_error(spec, n.error());
                 args.emplace_back("limit", std::to_string(*n));
             }
             return answer_with(c, request_line("clients", args),
                                [](const rapidjson::Value& r) { print_clients(r, now_s()); });
         }},
        {"gateways", "", 0, "the fleet's gateways (id, addresses, clients, last seen, configuration hash; a hash\n"
         "that differs from this gateway's is flagged) and the etcd session",
         {},
         [](const Context& c, const cli::Parsed&, const cli::Spec&) {
             return answer_with(c, request_line("gateways"), [](const rapidjson::Value& r) { print_gateways(r, now_s()); });
         }},
        {"client", "IDENTITY", 1, "one client in detail (times also as \"3m12s ago\")", {},
         [](const Context& c, const cli::Parsed& a, const cli::Spec&) {
             return plain(c, request_line("client", {{"identity", a.operands[0]}}));
         }},
        {"kick", "IDENTITY", 1, "disconnect a client (it may reconnect)", {},
         [](const Context& c, const cli::Parsed& a, const cli::Spec&) {
             return plain(c, request_line("kick", {{"identity", a.operands[0]}}));
         }},
        {"reload", "", 0, "re-read the configuration file (as SIGHUP; a bad file fails, exit 1)", {},
         [](const Context& c, const cli::Parsed&, const cli::Spec&) { return plain(c, request_line("reload")); }},
        {"stats", "", 0, "control-plane and dataplane counters with their descriptions",
         {{"nonzero", 0, nullptr, "only the counters that are not 0"}},
         [](const Context& c, const cli::Parsed& a, const cli::Spec&) {
             const bool nonzero = a.has("nonzero");
             return answer_with(c, request_line("stats"),
                                [nonzero](const rapidjson::Value& r) { print_stats(r, nonzero, now_s()); });
         }},
        {"dataplane", "", 0, "the dataplane's sessions and its counters per worker",
         {{"all", 0, nullptr, "also the counters that are 0 on every worker"}},
         [](const Context& c, const cli::Parsed& a, const cli::Spec&) {
             const bool all = a.has("all");
             return answer_with(c, request_line("dataplane"),
                                [all](const rapidjson::Value& r) { print_dataplane(r, all, now_s()); });
         }},
        {"runtime", "", 0, "dataplane workers: TSC cycles per packet by stage, burst sizes, polls", {},
         [](const Context& c, const cli::Parsed&, const cli::Spec&) {
             return answer_with(c, request_line("runtime"), [](const rapidjson::Value& r) { print_runtime(r); });
         }},
        {"watch", "", 0, "per-second rates of the counters that change (Ctrl-C stops)",
         {{"interval", 0, "S", "seconds between samples (default 1)"},
          {"count", 0, "N", "stop after N reports (default: never)"}},
         [](const Context& c, const cli::Parsed& a, const cli::Spec& spec) { return run_watch(c, a, spec); }},
        {"clear-counters", "", 0,
         "from now on, stats and dataplane show counts since this clear (a baseline in the\n"
         "control plane: nothing is zeroed; the metrics endpoint keeps the totals)",
         {},
         [](const Context& c, const cli::Parsed&, const cli::Spec&) {
             return answer_with(c, request_line("clear-counters"), [](const rapidjson::Value& r) {
                 std::printf("counters cleared%s; stats and dataplane show counts since now\n",
                             r.HasMember("dataplane") && r["dataplane"].IsBool() && r["dataplane"].GetBool()
                                 ? " (control plane and dataplane)"
                                 : " (control plane; no dataplane attached)");
             });
         }},
    };
    return table;
}

cli::Spec top_spec() {
    cli::Spec spec{.program = "rustunctl", .usage = "[-s PATH | -c FILE] [--json] COMMAND [ARGS]",
                   .about = "Talks to a running rustun-controlplane over its control socket.",
                   .options = kGlobalOptions};
    spec.epilog = "Commands (rustunctl COMMAND --help for each):\n";
    for (const auto& c : commands()) {
        std::string left = std::string(c.name) + (*c.operands ? std::string(" ") + c.operands : "");
        std::string help = c.summary;
        for (size_t at = 0; (at = help.find('\n', at)) != std::string::npos; at += 25) help.insert(at + 1, 24, ' ');
        spec.epilog += "  " + left + std::string(left.size() < 21 ? 22 - left.size() : 1, ' ') + help + "\n";
    }
    spec.epilog += "Exit codes: 0 done, 1 the gateway refused or could not be reached, 2 usage error.";
    spec.stop_at_operand = true;
    return spec;
}

cli::Spec command_spec(const Command& c) {
    cli::Spec spec{.program = "rustunctl", .command = c.name,
                   .usage = std::string(*c.operands ? std::string(c.operands) + " " : "") + "[options]",
                   .about = c.summary, .options = c.options};
    spec.options.insert(spec.options.end(), kGlobalOptions.begin(), kGlobalOptions.end());
    spec.operands_allowed = c.operand_count > 0;
    return spec;
}

int run(int argc, char** argv) {
    const cli::Spec top = top_spec();
    cli::Parsed global;
    if (auto code = cli::parse(top, argc, argv, global)) return *code;
    if (global.operands.empty()) return cli::usage_error(top, "a command is required");
    const std::string name = global.operands[0];
    for (const Command& c : commands()) {
        if (name != c.name) continue;
        const cli::Spec spec = command_spec(c);
        cli::Parsed local;
        if (auto code = cli::parse(spec, argc, argv, local, global.operand_index + 1)) return *code;
        if (local.operands.size() != c.operand_count)
            return cli::usage_error(spec, c.operand_count ? std::string("expected ") + c.operands : "takes no arguments");
        // An option after the command overrides the same one before it.
        Context ctx;
        ctx.json = global.has("json") || local.has("json");
        auto sock = find_socket(local.value("socket", global.value("socket")), local.value("config", global.value("config")));
        if (!sock) {
            std::fprintf(stderr, "rustunctl: %s\n", sock.error().c_str());
            return 1;
        }
        ctx.socket = *sock;
        return c.run(ctx, local, spec);
    }
    return cli::usage_error(top, "unknown command '" + name + "'");
}

}  // namespace
}  // namespace rustun::ctl

int main(int argc, char** argv) { return rustun::ctl::run(argc, argv); }
