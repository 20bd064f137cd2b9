// rustunctl: the operator's CLI for a running rustun-controlplane, over its control socket
// (JSON lines, see docs/controlplane.md). Human-readable tables by default, raw JSON with --json.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "util/version.hpp"

namespace rustun::cp {
namespace {

const char* kDefaultSocket = "/run/rustun/control.sock";

void usage(FILE* out) {
    fprintf(out,
            "Usage: rustunctl [--socket PATH] [--json] COMMAND [ARGS]\n"
            "\n"
            "Talks to a running rustun-controlplane over its control socket.\n"
            "\n"
            "Commands:\n"
            "  status                  version, uptime, configuration, client and dataplane summary\n"
            "  clients [--cluster C]   every configured client with its state and counters\n"
            "  client ID               one client in detail\n"
            "  kick ID                 disconnect a client (it may reconnect)\n"
            "  reload                  re-read the configuration file (same as SIGHUP)\n"
            "  stats                   control-plane counters (and the dataplane's when attached)\n"
            "  runtime                 dataplane workers: TSC cycles per packet by stage, burst sizes, polls\n"
            "\n"
            "Options:\n"
            "  --socket PATH   control socket (default %s)\n"
            "  --json          print the raw JSON answer\n"
            "  -V, --version   print the version and exit\n"
            "  -h, --help      this text\n",
            kDefaultSocket);
}

std::string escape_json(const std::string& s) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.String(s.c_str(), (rapidjson::SizeType)s.size());
    return sb.GetString();
}

bool request(const std::string& path, const std::string& line, std::string& answer, std::string& err) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) { err = strerror(errno); return false; }
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) { err = "socket path too long"; ::close(fd); return false; }
    std::memcpy(addr.sun_path, path.c_str(), path.size());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
        err = "cannot connect to " + path + ": " + strerror(errno) +
              " (is rustun-controlplane running? see --socket)";
        ::close(fd);
        return false;
    }
    std::string out = line + "\n";
    if (::send(fd, out.data(), out.size(), MSG_NOSIGNAL) != (ssize_t)out.size()) {
        err = std::string("send: ") + strerror(errno);
        ::close(fd);
        return false;
    }
    char buf[65536];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 30000) <= 0) { err = "no answer within 30 s"; ::close(fd); return false; }
        ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r <= 0) { err = "connection closed before an answer"; ::close(fd); return false; }
        answer.append(buf, (size_t)r);
        auto nl = answer.find('\n');
        if (nl != std::string::npos) { answer.resize(nl); break; }
    }
    ::close(fd);
    return true;
}

std::string str(const rapidjson::Value& v) {
    if (v.IsString()) return v.GetString();
    if (v.IsNull()) return "-";
    if (v.IsBool()) return v.GetBool() ? "yes" : "no";
    if (v.IsUint64()) return std::to_string(v.GetUint64());
    if (v.IsInt64()) return std::to_string(v.GetInt64());
    if (v.IsDouble()) { char b[32]; snprintf(b, sizeof b, "%.1f", v.GetDouble()); return b; }
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    v.Accept(w);
    return sb.GetString();
}

std::string member(const rapidjson::Value& o, const char* name) {
    if (!o.IsObject()) return "-";
    auto it = o.FindMember(name);
    return it == o.MemberEnd() ? "-" : str(it->value);
}

std::string ago(const rapidjson::Value& o, const char* name) {
    auto it = o.FindMember(name);
    if (it == o.MemberEnd() || !it->value.IsUint64() || it->value.GetUint64() == 0) return "never";
    long d = (long)time(nullptr) - (long)it->value.GetUint64();
    if (d < 0) d = 0;
    char b[32];
    if (d < 120) snprintf(b, sizeof b, "%lds ago", d);
    else if (d < 7200) snprintf(b, sizeof b, "%ldm ago", d / 60);
    else snprintf(b, sizeof b, "%ldh ago", d / 3600);
    return b;
}

// Column-aligned table on stdout.
void print_table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows) {
    std::vector<size_t> w(head.size());
    for (size_t i = 0; i < head.size(); ++i) w[i] = head[i].size();
    for (auto& r : rows)
        for (size_t i = 0; i < r.size() && i < w.size(); ++i) w[i] = std::max(w[i], r[i].size());
    auto line = [&](const std::vector<std::string>& r) {
        std::string s;
        for (size_t i = 0; i < r.size(); ++i) {
            s += r[i];
            if (i + 1 < r.size()) s += std::string(w[i] - r[i].size() + 2, ' ');
        }
        puts(s.c_str());
    };
    line(head);
    for (auto& r : rows) line(r);
}

void print_kv(const rapidjson::Value& o, const std::string& indent = "") {
    size_t w = 0;
    for (auto it = o.MemberBegin(); it != o.MemberEnd(); ++it) w = std::max<size_t>(w, it->name.GetStringLength());
    for (auto it = o.MemberBegin(); it != o.MemberEnd(); ++it) {
        std::string name = it->name.GetString();
        if (it->value.IsObject()) {
            printf("%s%s:\n", indent.c_str(), name.c_str());
            print_kv(it->value, indent + "  ");
        } else {
            printf("%s%-*s  %s\n", indent.c_str(), (int)w, name.c_str(), str(it->value).c_str());
        }
    }
}

void print_clients(const rapidjson::Value& result) {
    std::vector<std::vector<std::string>> rows;
    const auto& list = result["clients"];
    size_t online = 0;
    for (auto& c : list.GetArray()) {
        bool on = c["online"].IsBool() && c["online"].GetBool();
        online += on;
        rows.push_back({member(c, "identity"), member(c, "cluster"), member(c, "private_ip"), on ? "online" : "offline",
                        member(c, "dialect"), member(c, "tcp_peer"), member(c, "udp_endpoint"), ago(c, "last_active"),
                        member(c, "rx_frames"), member(c, "tx_frames"), member(c, "drops")});
    }
    print_table({"IDENTITY", "CLUSTER", "PRIVATE_IP", "STATE", "DIALECT", "TCP_PEER", "UDP_ENDPOINT", "LAST_ACTIVE",
                 "RX", "TX", "DROPS"},
                rows);
    printf("%zu clients, %zu online\n", rows.size(), online);
}

void print_stats(const rapidjson::Value& result) {
    for (auto it = result.MemberBegin(); it != result.MemberEnd(); ++it) {
        printf("%s:\n", it->name.GetString());
        if (it->value.IsNull()) {
            printf("  (not attached)\n");
            continue;
        }
        std::vector<std::vector<std::string>> rows;
        for (auto c = it->value.MemberBegin(); c != it->value.MemberEnd(); ++c)
            rows.push_back({std::string("  ") + c->name.GetString(), str(c->value)});
        print_table({"  COUNTER", "VALUE"}, rows);
    }
}

// `runtime`: one row per worker and a total, as VPP's `show runtime` (cycles are TSC cycles per
// received packet; the stage columns are 0 with dataplane.stage_cycles: 0).
void print_runtime(const rapidjson::Value& result) {
    if (!result["workers"].IsArray()) {
        printf("dataplane: (not attached)\n");
        return;
    }
    auto num = [](const rapidjson::Value& v, const char* k) { return v.HasMember(k) && v[k].IsNumber() ? v[k].GetDouble() : 0.0; };
    auto f1 = [](double x) { char b[32]; snprintf(b, sizeof b, "%.1f", x); return std::string(b); };
    std::vector<std::string> head = {"WORKER", "PACKETS", "PKTS/BURST", "BUSY%", "CYC/PKT"};
    static const char* kStages[] = {"rx", "parse", "lookup", "crypto", "route", "tx", "other"};
    for (const char* s : kStages) head.push_back(s);
    head.insert(head.end(), {"IDLE_POLLS", "STALLED", "BURSTS 1/2-3/4-7/8-15/16-31/32+"});
    std::vector<std::vector<std::string>> rows;
    auto row = [&](const std::string& name, const rapidjson::Value& v) {
        std::vector<std::string> r = {name, str(v["packets"]), f1(num(v, "packets_per_burst")),
                                      f1(100 * num(v, "busy_share")), f1(num(v, "cycles_per_packet"))};
        for (const char* s : kStages) r.push_back(f1(num(v["stage_cycles_per_packet"], s)));
        r.push_back(str(v["idle_polls"]));
        r.push_back(str(v["stalled_bursts"]));
        std::string h;
        for (const char* b : {"1", "2-3", "4-7", "8-15", "16-31", "32+"}) {
            if (!h.empty()) h += '/';
            h += str(v["bursts"][b]);
        }
        r.push_back(h);
        rows.push_back(std::move(r));
    };
    size_t i = 0;
    for (auto& w : result["workers"].GetArray()) row(std::to_string(i++), w);
    row("total", result["total"]);
    print_table(head, rows);
}

}  // namespace
}  // namespace rustun::cp

int main(int argc, char** argv) {
    using namespace rustun::cp;
    std::string sock = kDefaultSocket;
    bool json = false;
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-h" || a == "--help") { usage(stdout); return 0; }
        if (a == "-V" || a == "--version") { printf("rustunctl %s\n", rustun::kVersion); return 0; }
        if (a == "--json") { json = true; continue; }
        if (a == "--socket" || a.rfind("--socket=", 0) == 0) {
            if (a == "--socket") {
                if (++i >= argc) { fprintf(stderr, "rustunctl: --socket needs a path\n"); return 2; }
                sock = argv[i];
            } else {
                sock = a.substr(9);
            }
            continue;
        }
        args.push_back(a);
    }
    if (args.empty()) { usage(stderr); return 2; }
    const std::string& cmd = args[0];
    std::string req = "{\"cmd\":" + escape_json(cmd);
    if (cmd == "status" || cmd == "reload" || cmd == "stats" || cmd == "runtime") {
        if (args.size() != 1) { fprintf(stderr, "rustunctl: %s takes no arguments\n", cmd.c_str()); return 2; }
    } else if (cmd == "clients") {
        if (args.size() == 3 && args[1] == "--cluster") req += ",\"cluster\":" + escape_json(args[2]);
        else if (args.size() != 1) { fprintf(stderr, "rustunctl: usage: clients [--cluster NAME]\n"); return 2; }
    } else if (cmd == "client" || cmd == "kick") {
        if (args.size() != 2) { fprintf(stderr, "rustunctl: usage: %s IDENTITY\n", cmd.c_str()); return 2; }
        req += ",\"identity\":" + escape_json(args[1]);
    } else {
        fprintf(stderr, "rustunctl: unknown command '%s' (see --help)\n", cmd.c_str());
        return 2;
    }
    req += "}";

    std::string answer, err;
    if (!request(sock, req, answer, err)) {
        fprintf(stderr, "rustunctl: %s\n", err.c_str());
        return 1;
    }
    rapidjson::Document d;
    if (d.Parse<rapidjson::kParseIterativeFlag>(answer.c_str()).HasParseError() || !d.IsObject() || !d.HasMember("ok")) {
        fprintf(stderr, "rustunctl: unparseable answer: %s\n", answer.c_str());
        return 1;
    }
    if (!d["ok"].IsBool() || !d["ok"].GetBool()) {
        fprintf(stderr, "rustunctl: %s\n", member(d, "error").c_str());
        if (json) puts(answer.c_str());
        return 1;
    }
    const rapidjson::Value& r = d["result"];
    if (json) {
        rapidjson::StringBuffer sb;
        rapidjson::PrettyWriter<rapidjson::StringBuffer> w(sb);
        w.SetIndent(' ', 2);
        r.Accept(w);
        puts(sb.GetString());
        return 0;
    }
    if (cmd == "clients") print_clients(r);
    else if (cmd == "stats") print_stats(r);
    else if (cmd == "runtime") print_runtime(r);
    else if (r.IsObject()) print_kv(r);
    else puts(str(r).c_str());
    return 0;
}
