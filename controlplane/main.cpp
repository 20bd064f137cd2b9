// rustun-controlplane: a Rustun-compatible TCP gateway (docs/controlplane.md).
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "config/yaml_loader.hpp"
#include "fd_limit.hpp"
#include "gateway.hpp"
#include "membership.hpp"
#include "routing/route_overlaps.hpp"
#include "util/cli.hpp"
#include "util/log.hpp"

namespace {

// --check-config: every error on stderr (exit 1), or the summary and the warnings on stdout.
int check_config(const std::string& config_path) {
    using namespace rustun;
    using namespace rustun::cp;
    ConfigCheck check = check_config_file(config_path);
    for (const std::string& e : check.errors) fprintf(stderr, "rustun-controlplane: %s\n", e.c_str());
    if (!check.errors.empty()) return 1;
    const GatewayConfig& cfg = *check.config;
    if (!cfg.control_socket_group.empty()) {
        auto gid = ControlSocket::resolve_group(cfg.control_socket_group);
        if (!gid) {
            fprintf(stderr, "rustun-controlplane: %s\n", gid.error().c_str());
            return 1;
        }
    }
    printf("%s: OK: listen %s, %zu cluster(s), %zu client(s), %u worker(s), control socket %s\n",
           config_path.c_str(), cfg.listen.tcp.to_string().c_str(), cfg.clusters.size(), cfg.total_clients(),
           cfg.controlplane.workers, cfg.control_socket.c_str());
    for (const std::string& line : check.warnings) printf("warning: %s\n", line.c_str());
    for (const std::string& line : shared_key_warnings(cfg)) printf("warning: %s\n", line.c_str());
    for (const std::string& line : route_overlap_warnings(cfg).lines) printf("warning: %s\n", line.c_str());
    // As the gateway will see it: the soft limit raised to the hard one.
    const FdLimit fds = read_fd_limit(cfg.controlplane.workers, true);
    const std::string fd_warning = fd_limit_warning(cfg.total_clients(), fds);
    if (!fd_warning.empty()) printf("warning: %s\n", fd_warning.c_str());
    return 0;
}

const rustun::cli::Spec& cli_spec() {
    static const rustun::cli::Spec spec{
        .program = "rustun-controlplane",
        .usage = "--config FILE [--log-level LEVEL] [--log-format FORMAT] [--check-config]",
        .about = "A Rustun-compatible gateway over kernel TCP: handshakes, cluster membership,\n"
                 "KeepAlive replies with peer lists, PeerUpdate, TCP relay. Serves clients of both\n"
                 "protocol generations. See docs/controlplane.md and docs/configuration.md.",
        .options = {
            {"config", 'c', "FILE", "YAML configuration (required)"},
            {"log-level", 0, "LEVEL", "trace, debug, info, warn, error, off (overrides the file)"},
            {"log-format", 0, "FORMAT", "text, journal, json (overrides the file's log.format)"},
            {"check-config", 0, nullptr,
             "validate the configuration, print every error (exit 1) or a\nsummary and warnings (exit 0)"},
        },
        .epilog = "Signals: SIGHUP reloads the configuration; SIGINT/SIGTERM stop.",
    };
    return spec;
}

}  // namespace

int main(int argc, char** argv) {
    using namespace rustun;
    using namespace rustun::cp;
    cli::Parsed args;
    if (auto code = cli::parse(cli_spec(), argc, argv, args)) return *code;
    const std::string config_path = args.value("config");
    const std::string level_text = args.value("log-level");
    const bool check_only = args.has("check-config");
    if (config_path.empty()) return cli::usage_error(cli_spec(), "--config FILE is required");
    const std::string format_text = args.value("log-format");
    if (check_only) return check_config(config_path);
    auto cfg = load_config_file(config_path);
    if (!cfg) {
        fprintf(stderr, "rustun-controlplane: %s\n", cfg.error().c_str());
        return 1;
    }
    LogLevel level = cfg->controlplane.log_level;
    if (!level_text.empty() && !log_level_from_string(level_text, level)) {
        return cli::usage_error(cli_spec(),
                                "--log-level: '" + level_text + "' is not one of trace, debug, info, warn, error, off");
    }
    set_log_level(level);
    LogFormat format = cfg->log_format.value_or(default_log_format());
    if (!format_text.empty() && !log_format_from_string(format_text, format)) {
        fprintf(stderr, "rustun-controlplane: --log-format: '%s' is not one of text, journal, json\n", format_text.c_str());
        return 2;
    }
    set_log_format(format);

    // Every thread inherits this mask; Gateway::run() takes the signals through a signalfd.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);

    // One descriptor per client connection: take the hard limit, and say so if it is too low.
    const FdLimit fds = read_fd_limit(cfg->controlplane.workers, true);
    if (const std::string w = fd_limit_warning(cfg->total_clients(), fds); !w.empty()) LOG_WARN("%s", w.c_str());

    Gateway gw(std::move(cfg.value()), config_path);
    if (!level_text.empty()) gw.pin_log_level();
    if (!format_text.empty()) gw.pin_log_format();
    Status st = gw.start();
    if (!st) {
        LOG_ERROR("%s", st.error().c_str());
        return 1;
    }
    // Loading a large configuration leaves freed heap behind (100k clients: ~480 MiB); give it
    // back so that the resident size reflects the connections, not the parse.
    malloc_trim(0);
    gw.run();
    LOG_INFO("stopped");
    return 0;
}
