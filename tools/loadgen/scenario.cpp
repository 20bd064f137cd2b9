// Simulated clients and their frames (scenario.hpp).
#include "scenario.hpp"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>

#include "crypto/key_hint.hpp"
#include "net/checksum.hpp"
#include "net/packet_build.hpp"
#include "proto/frame.hpp"
#include "proto/messages.hpp"
#include "util/endian.hpp"
#include "util/endpoint_text.hpp"

namespace rustun::loadgen {

uint16_t ipv4_checksum(const uint8_t* h) { return csum_fold(csum_add(0, h, kIpv4Len)); }

std::unique_ptr<Scenario> Scenario::create(const ScenarioOptions& o, std::string& err) {
    if (o.clients < 2 || o.clusters < 1 || o.clients % o.clusters != 0 || (o.clients / o.clusters) % 2 != 0) {
        err = "--clients must be a multiple of --clusters with an even number of clients per cluster";
        return nullptr;
    }
    if (o.clients > 2'000'000) {
        err = "--clients: at most 2000000";
        return nullptr;
    }
    if (o.inner_size < 40 || o.inner_size > 1430) {
        err = "--size: inner packet of 40..1430 bytes";
        return nullptr;
    }
    auto s = std::unique_ptr<Scenario>(new Scenario());
    s->o_ = o;
    const uint32_t per = o.clients / o.clusters;
    s->clients_.resize(o.clients);
    for (uint32_t i = 0; i < o.clients; ++i) {
        Client& c = s->clients_[i];
        c.cluster = i / per;
        c.ep_ip = o.endpoint_base + i + 1;
        c.ep_port = static_cast<uint16_t>(o.port_base + i % 50000);
        c.private_ip = 0x0A000000u + (i % per) + 1;
    }
    for (uint32_t c = 0; c < o.clusters; ++c) {
        auto k = CipherKey::create(std::string_view(s->cipher_text(c)));
        if (!k) {
            err = "cipher " + s->cipher_text(c) + ": " + k.error();
            return nullptr;
        }
        s->hint_tags_.push_back(key_hint_tag((*k)->spec()));
        s->keys_.push_back(std::move(*k));
    }
    return s;
}

std::string Scenario::cipher_text(uint32_t cluster) const {
    if (o_.method == "plain") return "plain";
    return o_.method + ":loadgen-" + std::to_string(cluster);
}

shm::Endpoint Scenario::endpoint(uint32_t i) const {
    shm::Endpoint e{};
    e.family = 4;
    e.port = clients_[i].ep_port;
    store_be32(e.addr, clients_[i].ep_ip);
    return e;
}

void Scenario::datagram_to_gateway(const uint8_t mac[6], uint32_t ip, uint16_t port, const uint8_t* payload,
                                   uint32_t len, uint8_t* out) const {
    OuterSource src{};
    std::memcpy(src.mac, mac, 6);
    store_be32(src.addr4, ip);
    src.port = port;
    shm::Endpoint gw{};
    gw.family = 4;
    gw.port = o_.gw_port;
    store_be32(gw.addr, o_.gw_ip);
    // IPv4, DF, TTL 64, id 0, header checksum, no UDP checksum: the dataplane's own header writer.
    write_outer(out, src, o_.gw_mac, gw, static_cast<uint16_t>(len), false, 0);
    std::memcpy(out + outer_header_len(4), payload, len);
}

void Scenario::datagram(uint32_t i, const uint8_t* frame, uint32_t len, uint8_t* out) const {
    const uint8_t mac[6] = {o_.client_mac[0], o_.client_mac[1], o_.client_mac[2], static_cast<uint8_t>(i >> 16),
                            static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
    datagram_to_gateway(mac, clients_[i].ep_ip, clients_[i].ep_port, frame, len, out);
}

void Scenario::datagram_from(uint32_t ip, uint16_t port, const uint8_t* payload, uint32_t len, uint8_t* out) const {
    const uint8_t mac[6] = {0x02, 0x00, 0x00, 0xfe, 0x00, 0x01};
    datagram_to_gateway(mac, ip, port, payload, len, out);
}

bool Scenario::data_frame(CryptoEngine& eng, uint32_t flow, uint32_t slot, uint8_t* out) const {
    const Client& src = clients_[flow];
    const Client& dst = clients_[partner(flow)];
    const CipherKey& k = *keys_[src.cluster];
    uint8_t inner[1500];
    const uint32_t n = o_.inner_size;
    for (uint32_t b = 0; b < n; ++b) inner[b] = static_cast<uint8_t>(b * 7 + flow);
    std::memset(inner, 0, 28);
    inner[0] = 0x45;
    store_be16(inner + 2, static_cast<uint16_t>(n));
    store_be16(inner + 4, static_cast<uint16_t>(slot));
    inner[8] = 64;
    inner[9] = 17;
    store_be32(inner + 12, src.private_ip);
    store_be32(inner + 16, dst.private_ip);
    store_be16(inner + 10, ipv4_checksum(inner));
    store_be16(inner + 20, 9);  // inner UDP "discard" ports
    store_be16(inner + 22, 9);
    store_be16(inner + 24, static_cast<uint16_t>(n - 20));
    uint8_t tag[12];
    std::memcpy(tag, &flow, 4);
    std::memcpy(tag + 4, &slot, 4);
    std::memcpy(tag + 8, &tag_, 4);
    if (!k.is_aead()) std::memcpy(inner + 28, tag, 12);
    uint32_t out_len = 0;
    const CryptoStatus st = eng.seal(k, std::span<const uint8_t>(inner, n), std::span<uint8_t>(out + 8, frame_len() - 8),
                                     out_len, k.is_aead() ? tag : nullptr);
    if (st != CryptoStatus::Ok || out_len + 8 != frame_len()) return false;
    return static_cast<bool>(encode_header(FrameType::Data, out_len, std::span<uint8_t>(out, 8)));
}

std::vector<uint8_t> Scenario::keepalive_frame(CryptoEngine& eng, uint32_t i, uint64_t seq,
                                               const std::string& cookie) const {
    KeepAlive ka;
    ka.identity = identity(i);
    ka.stun_ip = "";
    ka.seq = seq;
    if (!cookie.empty()) ka.cookie = cookie;
    std::string body;
    encode_keepalive(ka, Shape::New, body);
    const CipherKey& k = *keys_[clients_[i].cluster];
    std::vector<uint8_t> out(8 + body.size() + k.overhead());
    uint32_t n = 0;
    const std::optional<uint32_t>& tag = hint_tags_[clients_[i].cluster];
    uint8_t nonce[12];
    if (o_.key_hint && tag) key_hint_nonce(*tag, nonce);
    eng.seal(k, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(body.data()), body.size()),
             std::span<uint8_t>(out.data() + 8, out.size() - 8), n, o_.key_hint && tag ? nonce : nullptr);
    (void)encode_header(FrameType::KeepAlive, n, std::span<uint8_t>(out.data(), 8));
    out.resize(8 + n);
    return out;
}

std::string Scenario::keepalive_cookie(CryptoEngine& eng, uint32_t i, const uint8_t* frame, uint32_t len) const {
    if (i >= clients_.size() || len < 8 || frame[5] != static_cast<uint8_t>(FrameType::KeepAlive)) return {};
    const uint32_t plen = uint32_t{frame[6]} << 8 | frame[7];
    if (8 + plen > len) return {};
    std::vector<uint8_t> payload(frame + 8, frame + 8 + plen), out(plen + 1);
    OpenItem it;
    it.key = keys_[clients_[i].cluster].get();
    it.payload = payload.data();
    it.payload_len = plen;
    it.out = out.data();
    if (eng.open(it) != CryptoStatus::Ok) return {};
    auto ka = decode_keepalive(std::string_view(reinterpret_cast<const char*>(it.plaintext), it.plaintext_len));
    return ka && ka->cookie ? *ka->cookie : std::string();
}

bool Scenario::read_tag(const uint8_t* frame, uint32_t len, uint32_t receiver, uint32_t& flow, uint32_t& slot) const {
    if (len < 8 + 40 || frame[0] != 0x91 || frame[5] != static_cast<uint8_t>(FrameType::Data)) return false;
    uint8_t tag[12];
    const CipherKey& k0 = *keys_[0];
    if (k0.is_aead()) {
        std::memcpy(tag, frame + 8, 12);
    } else if (k0.method() == CipherMethod::Xor) {
        // The receiver is the flow's partner, and its cluster's XOR pad decodes the tag.
        if (receiver >= clients_.size()) return false;
        const CipherKey& k = *keys_[clients_[receiver].cluster];
        for (uint32_t b = 0; b < 12; ++b) tag[b] = frame[8 + 28 + b] ^ k.xor_pad()[(28 + b) % k.xor_pad_len()];
    } else {
        std::memcpy(tag, frame + 8 + 28, 12);
    }
    if (std::memcmp(tag + 8, &tag_, 4) != 0) return false;
    std::memcpy(&flow, tag, 4);
    std::memcpy(&slot, tag + 4, 4);
    return flow < clients_.size();
}

std::string Scenario::gateway_yaml(const std::string& tcp_listen, const std::string& extra,
                                   const std::string& clients_file) const {
    std::string y;
    char buf[256];
    const std::string gw = ipv4_text(o_.gw_ip);
    std::snprintf(buf, sizeof buf, "# generated by rustun-loadgen genconfig: %u clients in %u clusters, %s, relay %s:%u\n",
                  o_.clients, o_.clusters, o_.method.c_str(), gw.c_str(), o_.gw_port);
    y += buf;
    std::snprintf(buf, sizeof buf, "listen:\n  tcp: %s\n  udp: %s:%u\ncrypto: %s\n", tcp_listen.c_str(), gw.c_str(), o_.gw_port,
                  cipher_text(0).c_str());
    y += buf;
    y += extra;
    if (!clients_file.empty()) y += "clients_file: " + clients_file + "\n";
    y += "clusters:\n";
    const uint32_t per = o_.clients / o_.clusters;
    for (uint32_t c = 0; c < o_.clusters; ++c) {
        if (!clients_file.empty()) {  // the key only; the clients are in the file
            y += "  - {name: lgc" + std::to_string(c) + ", crypto: \"" + cipher_text(c) + "\"}\n";
            continue;
        }
        y += "  - name: lgc" + std::to_string(c) + "\n    crypto: " + cipher_text(c) + "\n    clients:\n";
        for (uint32_t i = c * per; i < (c + 1) * per; ++i) {
            std::snprintf(buf, sizeof buf,
                          "      - {identity: lg%u, private_ip: %s, mask: 255.0.0.0, gateway: 10.255.255.254, ciders: []}\n", i,
                          ipv4_text(clients_[i].private_ip).c_str());
            y += buf;
        }
    }
    return y;
}

std::string Scenario::routes_json() const {
    std::string out;
    out.reserve(static_cast<size_t>(o_.clients) * 170 + 4);
    out += "[\n";
    char buf[256];
    for (uint32_t i = 0; i < o_.clients; ++i) {
        std::snprintf(buf, sizeof buf,
                      "%s{\"name\": \"\", \"cluster\": \"lgc%u\", \"identity\": \"lg%u\", \"private_ip\": \"%s\", "
                      "\"mask\": \"255.0.0.0\", \"gateway\": \"10.255.255.254\", \"ciders\": []}\n",
                      i == 0 ? "" : ",", clients_[i].cluster, i, ipv4_text(clients_[i].private_ip).c_str());
        out += buf;
    }
    out += "]\n";
    return out;
}

}  // namespace rustun::loadgen
