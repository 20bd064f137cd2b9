// rustun-client command line (docs/client.md). The reference client's flags keep their names and
// defaults (docs/protocol.md, "Client command line": dbde974 defaults); everything else is our extension.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proto/constants.hpp"
#include "util/cli.hpp"
#include "util/log.hpp"
#include "util/result.hpp"

namespace rustun::client {

enum class RelayMode : uint8_t { Tcp, Udp };
enum class AddrSource : uint8_t { None, Fixed, Command, Stun };

// One gateway address: HOST (a name, resolved at each connect, or an IP literal) and port.
struct ServerAddress {
    std::string host;
    uint16_t port = 0;
    std::string text() const;  // "host:port", "[v6]:port"
};

struct Options {
    // -s/--server: the gateways in failover order (repeatable and comma-separated; at least one).
    std::vector<ServerAddress> servers;
    std::string identity;     // -i
    std::string crypto = "chacha20:rustun";
    bool enable_p2p = false;
    uint32_t keepalive_interval_s = kKeepAliveIntervalSeconds;
    uint32_t keepalive_threshold = 5;
    uint16_t p2p_port = 51258;
    RelayMode relay = RelayMode::Tcp;
    // --udp-relay: empty = each server's own host and port; otherwise one per server, same order.
    std::vector<ServerAddress> udp_relays;
    AddrSource addr_source = AddrSource::None;
    std::string public_addr;      // --public-addr
    std::string public_addr_cmd;  // --public-addr-cmd
    std::string stun_host;        // --public-addr-stun HOST:PORT
    uint16_t stun_port = 0;
    uint32_t address_check_interval_s = 300;
    std::string tun_name = "rustun%d";
    uint32_t mtu = 1430;
    std::string status_socket;
    uint16_t http_port = 0;  // 0: no HTTP status
    LogLevel log_level = LogLevel::Info;
    std::optional<LogFormat> log_format;  // nullopt: journal under systemd, else text
};

// Parses the command line (lib/util/cli.hpp) into `o`: nullopt to go on, or the exit code to
// return now (0 after --help/--version, 2 after an error, printed naming the flag).
std::optional<int> parse_options(int argc, char** argv, Options& o);
const cli::Spec& cli_spec();

// "host:port" or "[v6]:port" -> host, port (port 1..65535). Error text names `flag`.
Status split_host_port(const std::string& text, const char* flag, std::string& host, uint16_t& port);
// Every value of a repeatable address option, each split at commas: "a:1,b:2" -s c:3 -> a, b, c.
// An empty element ("a:1,,b:2") is an error naming `flag`.
Status parse_address_list(const std::vector<std::string>& values, const char* flag, std::vector<ServerAddress>& out);
// The UDP relay address of server `i`: --udp-relay's i-th entry, else the server's own address.
const ServerAddress& udp_relay_for(const Options& o, size_t i);

}  // namespace rustun::client
