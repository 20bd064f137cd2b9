// The Prometheus text endpoint (controlplane/metrics.hpp): the formatter on a synthetic snapshot
// (names, labels, escaping, HELP/TYPE lines), then the HTTP listener of an in-process gateway.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "harness.hpp"
#include "metrics.hpp"

namespace rustun::cp::test {
namespace {

MetricsSnapshot sample_snapshot() {
    MetricsSnapshot s;
    s.version = "v1.2-3-g\"x\\y";
    s.start_time_s = 1700000000;
    s.config_loaded_at_s = 1700000001;
    for (size_t i = 0; i < kCounterCount; ++i) s.cp[i] = 1000 + i;
    s.connections_open = 3;
    s.reloads = {4, 1, 1700000100, false};
    s.clusters.push_back({"plain", 3, 2, 1, 10, 1000, 20, 2000, 5});
    s.clusters.push_back({"we\"ird\\name\nx", 1, 0, 0, 0, 0, 0, 0, 0});
    s.dataplane_configured = true;
    s.dataplane_attached = true;
    s.dp_workers.resize(2);
    for (size_t w = 0; w < 2; ++w)
        for (size_t i = 0; i < shm::kDpCounterCount; ++i) s.dp_workers[w][i] = (w + 1) * 100 + i;
    for (size_t i = 0; i < shm::kDpCounterCount; ++i) s.dp_main[i] = 7;
    s.dp_sessions = 5;
    s.dp_session_capacity = 65536;
    return s;
}

struct Parsed {
    std::map<std::string, std::string> help, type;  // family -> text
    std::vector<std::string> order;                  // families in order of their HELP line
    std::map<std::string, std::string> samples;      // "name{labels}" -> value
    std::vector<std::string> errors;
};

// A strict reader of the text format as this formatter writes it: every family has HELP then
// TYPE before its samples, names are valid, every sample belongs to the family announced last.
Parsed parse(const std::string& text) {
    Parsed p;
    static const std::regex kName("[a-zA-Z_:][a-zA-Z0-9_:]*");
    static const std::regex kSample(R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? ([0-9]+(?:\.[0-9]+)?))");
    std::istringstream in(text);
    std::string line, current;
    while (std::getline(in, line)) {
        if (line.rfind("# HELP ", 0) == 0) {
            std::string rest = line.substr(7);
            std::string name = rest.substr(0, rest.find(' '));
            if (!std::regex_match(name, kName)) p.errors.push_back("bad name: " + line);
            if (p.help.count(name)) p.errors.push_back("second HELP: " + name);
            p.help[name] = rest.substr(name.size() + 1);
            p.order.push_back(name);
            current = name;
        } else if (line.rfind("# TYPE ", 0) == 0) {
            std::string rest = line.substr(7);
            std::string name = rest.substr(0, rest.find(' '));
            if (name != current) p.errors.push_back("TYPE without its HELP: " + line);
            p.type[name] = rest.substr(name.size() + 1);
        } else {
            std::smatch m;
            if (!std::regex_match(line, m, kSample)) {
                p.errors.push_back("bad sample line: " + line);
                continue;
            }
            // A histogram's samples are its name plus _bucket, _sum or _count; only its _sum is
            // not an integer.
            const std::string n = m[1].str();
            const bool histogram = p.type.count(current) && p.type[current] == "histogram";
            const bool in_family = n == current || (histogram && (n == current + "_bucket" || n == current + "_sum" ||
                                                                   n == current + "_count"));
            if (!in_family || !p.type.count(current)) p.errors.push_back("sample outside its family: " + line);
            if (m[4].str().find('.') != std::string::npos && !(histogram && n == current + "_sum"))
                p.errors.push_back("non-integer value: " + line);
            const std::string key = m[1].str() + (m[2].matched ? m[2].str() : "");
            if (p.samples.count(key)) p.errors.push_back("duplicate sample: " + line);
            p.samples[key] = m[4].str();
        }
    }
    return p;
}

TEST(MetricsFormat, EscapesLabelValuesAndHelp) {
    EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    EXPECT_EQ(escape_label_value("plain"), "plain");
    EXPECT_EQ(escape_help("quote \" stays, \\ and \n do not"), "quote \" stays, \\\\ and \\n do not");
}

TEST(MetricsFormat, FamiliesHaveHelpAndTypeAndValidNames) {
    const std::string text = format_metrics(sample_snapshot());
    ASSERT_FALSE(text.empty());
    EXPECT_EQ(text.back(), '\n');
    Parsed p = parse(text);
    for (const auto& e : p.errors) ADD_FAILURE() << e;
    for (const auto& [name, type] : p.type) {
        EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << name << " " << type;
        if (type == "counter") {
            EXPECT_TRUE(name.ends_with("_total")) << name;
        }
        EXPECT_FALSE(p.help[name].empty()) << name;
    }
    EXPECT_EQ(p.help.size(), p.type.size());
}

TEST(MetricsFormat, ControlPlaneCountersAndDataDropReasons) {
    const MetricsSnapshot s = sample_snapshot();
    Parsed p = parse(format_metrics(s));
    // An ordinary counter: its own family, HELP from the X-macro table.
    const size_t ok = static_cast<size_t>(Counter::handshake_ok);
    EXPECT_EQ(p.samples["rustun_controlplane_handshake_ok_total"], std::to_string(s.cp[ok]));
    EXPECT_EQ(p.help["rustun_controlplane_handshake_ok_total"], counter_info(Counter::handshake_ok).help);
    EXPECT_EQ(p.type["rustun_controlplane_handshake_ok_total"], "counter");
    // Data drops: one family, reason label, every reason named in the HELP.
    const size_t outq = static_cast<size_t>(Counter::data_outq_full);
    EXPECT_TRUE(cp_counter_is_data_drop(Counter::data_outq_full));
    EXPECT_FALSE(cp_counter_is_data_drop(Counter::data_relayed));
    EXPECT_EQ(p.samples["rustun_controlplane_data_drops_total{reason=\"data_outq_full\"}"], std::to_string(s.cp[outq]));
    EXPECT_EQ(p.samples.count("rustun_controlplane_data_outq_full_total"), 0u);
    EXPECT_NE(p.help["rustun_controlplane_data_drops_total"].find("data_outq_full = destination output queue full"),
              std::string::npos);
    for (size_t i = 0; i < kCounterCount; ++i) {
        const Counter c = static_cast<Counter>(i);
        const std::string name = counter_info(c).name;
        const std::string key = cp_counter_is_data_drop(c)
                                    ? "rustun_controlplane_data_drops_total{reason=\"" + name + "\"}"
                                    : "rustun_controlplane_" + name + "_total";
        EXPECT_EQ(p.samples[key], std::to_string(s.cp[i])) << key;
    }
    EXPECT_EQ(p.samples["rustun_controlplane_connections_open"], "3");
}

TEST(MetricsFormat, DataplanePerWorkerAndDropReasons) {
    const MetricsSnapshot s = sample_snapshot();
    Parsed p = parse(format_metrics(s));
    const size_t rx = static_cast<size_t>(shm::DpCounter::rx_packets);
    const size_t ring = static_cast<size_t>(shm::DpCounter::drop_ring_full);
    EXPECT_EQ(p.samples["rustun_dataplane_rx_packets_total{worker=\"0\"}"], std::to_string(s.dp_workers[0][rx]));
    EXPECT_EQ(p.samples["rustun_dataplane_rx_packets_total{worker=\"1\"}"], std::to_string(s.dp_workers[1][rx]));
    EXPECT_EQ(p.samples["rustun_dataplane_rx_packets_total{worker=\"main\"}"], "7");
    EXPECT_EQ(p.samples["rustun_dataplane_drops_total{worker=\"1\",reason=\"ring_full\"}"],
              std::to_string(s.dp_workers[1][ring]));
    EXPECT_EQ(p.samples["rustun_dataplane_drops_total{worker=\"main\",reason=\"ring_full\"}"], "7");
    EXPECT_EQ(p.samples.count("rustun_dataplane_drop_ring_full_total{worker=\"0\"}"), 0u);
    EXPECT_NE(p.help["rustun_dataplane_drops_total"].find("ring_full = dropped: punt ring to the control plane full"),
              std::string::npos);
    EXPECT_EQ(p.samples["rustun_dataplane_attached"], "1");
    EXPECT_EQ(p.samples["rustun_dataplane_sessions"], "5");
    EXPECT_EQ(p.samples["rustun_dataplane_session_capacity"], "65536");
    // Every dataplane counter is there for every block.
    size_t dp_samples = 0;
    for (const auto& [k, v] : p.samples) dp_samples += k.find("worker=\"") != std::string::npos ? 1 : 0;
    EXPECT_EQ(dp_samples, 3 * shm::kDpCounterCount);

    // Detached: the gauge says so; the families are announced, without samples.
    MetricsSnapshot d = s;
    d.dataplane_attached = false;
    Parsed q = parse(format_metrics(d));
    for (const auto& e : q.errors) ADD_FAILURE() << e;
    EXPECT_EQ(q.samples["rustun_dataplane_attached"], "0");
    EXPECT_EQ(q.samples["rustun_dataplane_configured"], "1");
    EXPECT_EQ(q.help.count("rustun_dataplane_drops_total"), 1u);
    EXPECT_EQ(q.type["rustun_dataplane_rx_packets_total"], "counter");
    for (const auto& [k, v] : q.samples) EXPECT_EQ(k.find("worker="), std::string::npos) << k;
    EXPECT_EQ(q.samples.count("rustun_dataplane_sessions"), 0u);
}

TEST(MetricsFormat, ClusterGaugesBytesAndReloads) {
    Parsed p = parse(format_metrics(sample_snapshot()));
    EXPECT_EQ(p.samples["rustun_cluster_clients_configured{cluster=\"plain\"}"], "3");
    EXPECT_EQ(p.samples["rustun_cluster_clients_online{cluster=\"plain\"}"], "2");
    EXPECT_EQ(p.samples["rustun_cluster_clients_udp_bound{cluster=\"plain\"}"], "1");
    EXPECT_EQ(p.samples["rustun_cluster_rx_bytes_total{cluster=\"plain\"}"], "1000");
    EXPECT_EQ(p.samples["rustun_cluster_tx_bytes_total{cluster=\"plain\"}"], "2000");
    EXPECT_EQ(p.type["rustun_cluster_clients_online"], "gauge");
    EXPECT_EQ(p.samples["rustun_cluster_clients_configured{cluster=\"we\\\"ird\\\\name\\nx\"}"], "1");
    EXPECT_EQ(p.samples["rustun_reloads_total{result=\"ok\"}"], "4");
    EXPECT_EQ(p.samples["rustun_reloads_total{result=\"failed\"}"], "1");
    EXPECT_EQ(p.samples["rustun_last_reload_success"], "0");
    EXPECT_EQ(p.samples["rustun_last_reload_time_seconds"], "1700000100");
    EXPECT_EQ(p.samples["rustun_build_info{version=\"v1.2-3-g\\\"x\\\\y\"}"], "1");
}

// ---- the listener of a running gateway ----

// One HTTP exchange on 127.0.0.1:port: sends `request`, returns everything until the server closes.
std::string http(uint16_t port, const std::string& request) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
        ::close(fd);
        return "connect failed";
    }
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) {
    }
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return out;
}

class MetricsEndpoint : public GatewayFixture {
protected:
    void start_with_metrics() {
        write_config(scenario_yaml(socket_path_) + "metrics:\n  listen: 127.0.0.1:0\n");
        auto cfg = load_config_file(config_path_);
        ASSERT_TRUE(cfg.ok()) << cfg.error();
        gw_ = std::make_unique<Gateway>(std::move(cfg.value()), config_path_);
        Status st = gw_->start();
        ASSERT_TRUE(st.ok()) << st.error();
        ASSERT_NE(gw_->metrics_port(), 0);
    }
    std::string get(const std::string& target) {
        return http(gw_->metrics_port(), "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
    }
};

TEST_F(MetricsEndpoint, ServesMetricsAnd404) {
    start_with_metrics();
    EXPECT_TRUE(has_thread_named("cp-metrics"));  // docs/operations.md, "Threads"
    EXPECT_TRUE(has_thread_named("cp-control"));
    EXPECT_TRUE(has_thread_named("cp-worker-0"));
    auto a = join("client-a", Dialect::New);
    ASSERT_TRUE(a);
    std::string r = get("/metrics");
    ASSERT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r.substr(0, 200);
    EXPECT_NE(r.find("Content-Type: text/plain; version=0.0.4"), std::string::npos);
    const std::string body = r.substr(r.find("\r\n\r\n") + 4);
    Parsed p = parse(body);
    for (const auto& e : p.errors) ADD_FAILURE() << e;
    EXPECT_EQ(p.samples["rustun_cluster_clients_configured{cluster=\"test\"}"], "3");
    EXPECT_EQ(p.samples["rustun_cluster_clients_online{cluster=\"test\"}"], "1");
    EXPECT_EQ(p.samples["rustun_cluster_clients_online{cluster=\"other\"}"], "0");
    EXPECT_EQ(p.samples["rustun_controlplane_handshake_ok_total"], "1");
    EXPECT_EQ(p.samples["rustun_dataplane_configured"], "0");
    // The one Handshake was timed: one sample, in the +Inf bucket and in some finite bucket.
    EXPECT_EQ(p.type["rustun_handshake_duration_seconds"], "histogram");
    EXPECT_EQ(p.samples["rustun_handshake_duration_seconds_count"], "1");
    EXPECT_EQ(p.samples["rustun_handshake_duration_seconds_bucket{le=\"+Inf\"}"], "1");
    EXPECT_EQ(p.samples["rustun_handshake_duration_seconds_bucket{le=\"0.1\"}"], "1");
    EXPECT_EQ(get("/metrics?x=1").rfind("HTTP/1.1 200 OK", 0), 0u);

    EXPECT_EQ(get("/").rfind("HTTP/1.1 404", 0), 0u);
    EXPECT_EQ(get("/metricsx").rfind("HTTP/1.1 404", 0), 0u);
    EXPECT_EQ(http(gw_->metrics_port(), "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
    EXPECT_EQ(http(gw_->metrics_port(), "garbage\r\n\r\n").rfind("HTTP/1.1 404", 0), 0u);
    // The endpoint counts its own requests: two scrapes answered before this one (a scrape is
    // counted after its text is made), four 404s.
    const std::string body2 = get("/metrics");
    Parsed p2 = parse(body2.substr(body2.find("\r\n\r\n") + 4));
    EXPECT_EQ(p2.samples["rustun_metrics_requests_total{result=\"ok\"}"], "2");
    EXPECT_EQ(p2.samples["rustun_metrics_requests_total{result=\"not_found\"}"], "4");
    EXPECT_EQ(p2.samples["rustun_metrics_connections_dropped_total{reason=\"full\"}"], "0");
}

TEST_F(MetricsEndpoint, CountsReloads) {
    start_with_metrics();
    ASSERT_TRUE(gw_->reload().ok());
    std::ofstream(config_path_) << "not: [valid";
    ASSERT_FALSE(gw_->reload().ok());
    Parsed p = parse(get("/metrics").substr(0));
    EXPECT_EQ(p.samples["rustun_reloads_total{result=\"ok\"}"], "1");
    EXPECT_EQ(p.samples["rustun_reloads_total{result=\"failed\"}"], "1");
    EXPECT_EQ(p.samples["rustun_last_reload_success"], "0");
}

TEST_F(MetricsEndpoint, SilentClientsAreBoundedAndDoNotBlockScrapes) {
    start_with_metrics();
    // More silent connections than the server keeps: the extra ones are closed at accept, and a
    // scrape still gets through once the silent ones reach their deadline at the latest.
    std::vector<int> idle;
    for (size_t i = 0; i < MetricsServer::kMaxConnections + 4; ++i) {
        int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(gw_->metrics_port());
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        idle.push_back(fd);
    }
    const auto t0 = std::chrono::steady_clock::now();
    std::string r;
    while (std::chrono::steady_clock::now() - t0 < MetricsServer::kDeadline + std::chrono::seconds(3)) {
        r = get("/metrics");
        if (r.rfind("HTTP/1.1 200", 0) == 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    EXPECT_EQ(r.rfind("HTTP/1.1 200", 0), 0u);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, MetricsServer::kDeadline + std::chrono::seconds(3));
    for (int fd : idle) ::close(fd);
    // The 4 over the cap were closed at accept, the 8 others at their deadline: both counted.
    const MetricsSnapshot::Server st = gw_->metrics_snapshot().server;
    EXPECT_GE(st.refused_full, 4u);
    EXPECT_GE(st.timed_out, 1u);
}

}  // namespace
}  // namespace rustun::cp::test
