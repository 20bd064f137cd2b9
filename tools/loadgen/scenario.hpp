// The simulated population shared by rustun-loadgen and rustun-pcapgen
// (docs/load-testing.md): N clients in C equal clusters, each client with its own UDP endpoint,
// paired inside its cluster (2m <-> 2m+1), and the frames they send. No DPDK here.
//
// Addressing (fixed, so that every tool and the generated gateway configuration agree):
//   client i (0-based):   endpoint  198.18.0.0 + (i + 1) : 10000 + (i % 50000)   (RFC 2544 range)
//                         identity  "lg<i>", private IP 10.0.0.0 + j + 1 (j = index in its cluster;
//                         clusters are separate tenants, so private IPs repeat across clusters)
//   cluster c:            name "lgc<c>", key "<method>:loadgen-<c>"
//   flow f = i:           client i -> its partner (i ^ 1); every client sends, so flows = N.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/cipher_key.hpp"
#include "crypto/crypto_engine.hpp"
#include "shm/channel_layout.hpp"
#include "util/clock.hpp"  // realtime_us: the KeepAlive seq clock

namespace rustun::loadgen {

struct ScenarioOptions {
    uint32_t clients = 100;         // even, divisible by clusters, cluster size even
    uint32_t clusters = 1;
    std::string method = "chacha20";  // chacha20, aes256, xor, plain
    uint32_t inner_size = 64;       // inner IPv4 packet bytes (the crypto plaintext), 28..1430
    uint32_t gw_ip = 0xC0000201;    // 192.0.2.1 (host order)
    uint16_t gw_port = 8080;
    uint8_t gw_mac[6] = {0x02, 0, 0, 0, 0, 0xfe};
    uint8_t client_mac[6] = {0x02, 0x6c, 0x67, 0, 0, 0};  // last 3 bytes = client index
    uint32_t endpoint_base = 0xC6120000;  // 198.18.0.0 (host order); client i gets base + i + 1
    uint16_t port_base = 10000;
    // KeepAlives carry the key-hint tag in their nonce (docs/protocol-extensions.md, "Key
    // hints"), as our client does; false = reference-shaped (random nonces).
    bool key_hint = true;
};

struct Client {
    uint32_t cluster;
    uint32_t ep_ip;       // host order
    uint16_t ep_port;
    uint32_t private_ip;  // host order
};

class Scenario {
public:
    static std::unique_ptr<Scenario> create(const ScenarioOptions& o, std::string& err);

    const ScenarioOptions& opt() const { return o_; }
    uint32_t clients() const { return o_.clients; }
    uint32_t clusters() const { return o_.clusters; }
    const Client& client(uint32_t i) const { return clients_[i]; }
    uint32_t partner(uint32_t i) const { return i ^ 1u; }
    const CipherKey& key(uint32_t cluster) const { return *keys_[cluster]; }
    std::string cipher_text(uint32_t cluster) const;
    std::string identity(uint32_t i) const { return "lg" + std::to_string(i); }
    shm::Endpoint endpoint(uint32_t i) const;
    // Frame bytes on the wire for one inner packet: 8 + inner + overhead.
    uint32_t frame_len() const { return 8 + o_.inner_size + keys_[0]->overhead(); }
    // Ethernet frame bytes of a Data datagram to the gateway.
    uint32_t wire_len() const { return 42 + frame_len(); }

    // Writes the Ethernet/IPv4/UDP datagram client i -> gateway carrying `frame` (len bytes) into
    // out (42 + len bytes).
    void datagram(uint32_t i, const uint8_t* frame, uint32_t len, uint8_t* out) const;
    // The same from another source: `ip` (host order) and `port`, MAC 02:00:00:fe:00:01 (a fleet
    // member's dataplane, --link-in).
    void datagram_from(uint32_t ip, uint16_t port, const uint8_t* payload, uint32_t len, uint8_t* out) const;
    // A sealed Data frame of flow i (client i -> partner) into out (frame_len() bytes). The 12-byte
    // AEAD nonce (and, for xor/plain, inner bytes 20..32) carries {flow, slot, tag} in the clear so
    // that a receiver identifies the packet without decrypting it (read_tag).
    bool data_frame(CryptoEngine& eng, uint32_t flow, uint32_t slot, uint8_t* out) const;
    // A sealed KeepAlive frame of client i with `seq` (Unix µs), HEAD shape (protocol-extensions.md);
    // its nonce carries the cluster key's hint tag unless opt().key_hint is false.
    // `cookie`: the gateway's return-routability cookie to echo (empty: none).
    std::vector<uint8_t> keepalive_frame(CryptoEngine& eng, uint32_t i, uint64_t seq,
                                         const std::string& cookie = {}) const;
    // The "cookie" of a KeepAlive reply to client i (a challenge), or "" (a plain reply, or not
    // a KeepAlive that client i's key opens).
    std::string keepalive_cookie(CryptoEngine& eng, uint32_t i, const uint8_t* frame, uint32_t len) const;
    // Recovers {flow, slot} from a relayed frame (frame = 8-byte header onwards); false if the
    // frame is not one of ours. `receiver`: the client the datagram was addressed to (only xor
    // needs it: the tag is decoded with the receiver's cluster pad).
    bool read_tag(const uint8_t* frame, uint32_t len, uint32_t receiver, uint32_t& flow, uint32_t& slot) const;
    // Client index of an endpoint address (host order), or clients() if none.
    uint32_t client_of(uint32_t ep_ip) const {
        const uint32_t i = ep_ip - o_.endpoint_base - 1;
        return i < o_.clients ? i : o_.clients;
    }

    // Gateway YAML (listen, crypto, clusters, and an optional dataplane section text appended).
    // With `clients_file` (the path the YAML names, docs/configuration.md "Large configurations"),
    // the clusters list only their names and keys, and the clients are in routes_json().
    std::string gateway_yaml(const std::string& tcp_listen, const std::string& extra,
                             const std::string& clients_file = "") const;
    // The clients as a reference routes.json (one entry a line, ~170 bytes per client).
    std::string routes_json() const;

    uint32_t run_tag() const { return tag_; }

private:
    // The Ethernet/IPv4/UDP datagram from (mac, ip, port) to the gateway around `payload`.
    void datagram_to_gateway(const uint8_t mac[6], uint32_t ip, uint16_t port, const uint8_t* payload, uint32_t len,
                             uint8_t* out) const;

    ScenarioOptions o_;
    std::vector<Client> clients_;
    std::vector<std::unique_ptr<CipherKey>> keys_;
    std::vector<std::optional<uint32_t>> hint_tags_;  // per cluster (AEAD keys only)
    uint32_t tag_ = 0x524c4731;  // "RLG1"
};

// One's complement IPv4 header checksum of 20 bytes.
uint16_t ipv4_checksum(const uint8_t* h);

}  // namespace rustun::loadgen
