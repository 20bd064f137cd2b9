// rustun-dp-smoke: a stand-in control plane for the hand-run smoke test (docs/dataplane.md,
// "Smoke test"). Not a test framework: it writes an input pcap, then plays the control plane on
// the channel (full sync, live bindings, heartbeat, reads punts/TcpDeliver, answers one punt
// with a TxFrame) and prints what it saw.
//   rustun-dp-smoke gen IN.pcap
//   rustun-dp-smoke cp CHANNEL SECONDS
#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "crypto/cipher_key.hpp"
#include "crypto/crypto_engine.hpp"
#include "packet.hpp"
#include "net/pcap_writer.hpp"
#include "proto/frame.hpp"
#include "shm/channel.hpp"
#include "shm/control_push.hpp"
#include "shm/state_writer.hpp"
#include "util/clock.hpp"
#include "util/endpoint_text.hpp"
#include "util/cli.hpp"
#include "util/log.hpp"

using namespace rustun;
using namespace rustun::dp;

namespace {

constexpr uint16_t kRelayPort = 8080;

int fail(const std::string& msg) {
    LOG_ERROR("%s", msg.c_str());
    return 1;
}
// The cipher of the scenario's cluster: $RUSTUN_SMOKE_CIPHER or chacha20:rustun.
const char* cipher_text() {
    const char* e = std::getenv("RUSTUN_SMOKE_CIPHER");
    return e && *e ? e : "chacha20:rustun";
}

shm::Endpoint ep4(const char* a, uint16_t port) {
    shm::Endpoint e{};
    e.family = 4;
    e.port = port;
    inet_pton(AF_INET, a, e.addr);
    return e;
}
shm::Endpoint ep6(const char* a, uint16_t port) {
    shm::Endpoint e{};
    e.family = 6;
    e.port = port;
    inet_pton(AF_INET6, a, e.addr);
    return e;
}

// Clients of the scenario: id, private IP, endpoint.
const shm::Endpoint kA = ep4("198.51.100.1", 5000), kB = ep4("198.51.100.2", 6000),
                    kC = ep6("2001:db8::9", 7000), kStranger = ep4("203.0.113.7", 4000);

std::vector<uint8_t> frame(FrameType t, const std::vector<uint8_t>& plain, bool corrupt = false) {
    static auto key = std::move(CipherKey::create(std::string_view(cipher_text()))).value();
    static auto eng = std::move(CryptoEngine::create()).value();
    std::vector<uint8_t> out(8 + plain.size() + 28);
    uint32_t n = 0;
    eng->seal(*key, plain, std::span<uint8_t>(out.data() + 8, out.size() - 8), n);
    (void)encode_header(t, n, std::span<uint8_t>(out.data(), 8));
    out.resize(8 + n);
    if (corrupt) out.back() ^= 1;
    return out;
}

std::vector<uint8_t> ipv4_packet(const char* src, const char* dst) {
    std::vector<uint8_t> p(40, 0);
    p[0] = 0x45;
    store_be16(&p[2], 40);
    p[8] = 64;
    p[9] = 17;
    inet_pton(AF_INET, src, &p[12]);
    inet_pton(AF_INET, dst, &p[16]);
    return p;
}

std::vector<uint8_t> datagram(const shm::Endpoint& from, const shm::Endpoint& to, const std::vector<uint8_t>& payload) {
    // Built with the dataplane's own helper, "from" the client to the gateway.
    OuterSource s{};
    const uint8_t cmac[6] = {0x02, 0, 0, 0, 0, 0x01};
    std::memcpy(s.mac, cmac, 6);
    if (from.family == 4) std::memcpy(s.addr4, from.addr, 4);
    std::memcpy(s.addr6, from.addr, 16);
    s.has_addr6 = true;
    s.port = from.port;
    const uint8_t gwmac[6] = {0x02, 0, 0, 0, 0, 0xfe};
    std::vector<uint8_t> out(outer_header_len(to.family) + payload.size());
    std::memcpy(out.data() + outer_header_len(to.family), payload.data(), payload.size());
    write_outer(out.data(), s, gwmac, to, static_cast<uint16_t>(payload.size()), false, 1);
    return out;
}

int gen(const char* path) {
    const shm::Endpoint gw4 = ep4("192.0.2.1", kRelayPort), gw6 = ep6("2001:db8::1", kRelayPort);
    std::vector<std::pair<std::string, std::vector<uint8_t>>> pk;
    auto data = [&](const char* s, const char* d) { return frame(FrameType::Data, ipv4_packet(s, d)); };
    pk.emplace_back("relay A->B", datagram(kA, gw4, data("10.0.0.2", "10.0.0.3")));
    pk.emplace_back("A->D (no UDP) -> TcpDeliver", datagram(kA, gw4, data("10.0.0.2", "10.0.0.5")));
    pk.emplace_back("spoofed source", datagram(kA, gw4, data("10.9.9.9", "10.0.0.3")));
    pk.emplace_back("no route", datagram(kA, gw4, data("10.0.0.2", "10.1.1.1")));
    std::string ka = "{\"identity\":\"a\",\"seq\":1}";
    pk.emplace_back("KeepAlive A -> punt", datagram(kA, gw4, frame(FrameType::KeepAlive, std::vector<uint8_t>(ka.begin(), ka.end()))));
    pk.emplace_back("KeepAlive stranger -> punt", datagram(kStranger, gw4, frame(FrameType::KeepAlive, std::vector<uint8_t>(ka.begin(), ka.end()))));
    std::vector<uint8_t> stun(20, 0);
    store_be16(&stun[0], 1);
    store_be32(&stun[4], 0x2112A442);
    for (int i = 0; i < 12; ++i) stun[8 + i] = static_cast<uint8_t>(i + 1);
    pk.emplace_back("STUN v4", datagram(kStranger, gw4, stun));
    pk.emplace_back("bad magic", datagram(kA, gw4, {1, 2, 3, 4, 1, 3, 0, 0}));
    pk.emplace_back("auth failed", datagram(kA, gw4, frame(FrameType::Data, ipv4_packet("10.0.0.2", "10.0.0.3"), true)));
    pk.emplace_back("unknown endpoint", datagram(kStranger, gw4, data("10.0.0.2", "10.0.0.3")));
    std::vector<uint8_t> arp(60, 0);
    std::memset(arp.data(), 0xff, 6);
    store_be16(&arp[12], 0x0806);
    pk.emplace_back("ARP", arp);
    pk.emplace_back("other port", datagram(kA, ep4("192.0.2.1", 53), data("10.0.0.2", "10.0.0.3")));
    pk.emplace_back("relay A->C over IPv6", datagram(kA, gw4, data("10.0.0.2", "10.0.0.4")));
    pk.emplace_back("STUN v6", datagram(kC, gw6, stun));
    auto trailing = data("10.0.0.4", "10.0.0.3");
    trailing.insert(trailing.end(), {0xde, 0xad});
    pk.emplace_back("relay C->B (v6 in, v4 out, trailing bytes)", datagram(kC, gw6, trailing));

    PcapWriter w;
    if (Status st = w.open(path); !st) return fail(st.error());
    uint32_t t = 1;
    for (auto& [name, b] : pk) {
        w.write(b.data(), static_cast<uint32_t>(b.size()), uint64_t{t++} * 1'000'000);  // one per second
        std::printf("in %2u: %s (%zu bytes)\n", t - 1, name.c_str(), b.size());
    }
    if (Status st = w.close(); !st) return fail(st.error());
    return 0;
}

// N copies of a Data frame A->B with an inner packet of `inner` bytes (for throughput runs with
// net_pcap's infinite_rx=1).
int gen_relay(const char* path, uint32_t inner, uint32_t count) {
    auto pkt = ipv4_packet("10.0.0.2", "10.0.0.3");
    pkt.resize(std::max<uint32_t>(inner, 20));
    store_be16(&pkt[2], static_cast<uint16_t>(pkt.size()));
    PcapWriter w;
    if (Status st = w.open(path); !st) return fail(st.error());
    for (uint32_t i = 0; i < count; ++i) {
        auto b = datagram(kA, ep4("192.0.2.1", kRelayPort), frame(FrameType::Data, pkt));
        w.write(b.data(), static_cast<uint32_t>(b.size()), uint64_t{i} * 1'000'000);  // one per second
    }
    if (Status st = w.close(); !st) return fail(st.error());
    return 0;
}

template <typename T>
bool send(shm::SpscRing& r, shm::MsgType t, const T* body, uint32_t len = sizeof(T)) {
    for (int i = 0; i < 1000; ++i) {
        if (uint8_t* s = r.reserve()) {
            shm::write_msg(s, t, body, len);
            r.commit();
            return true;
        }
        usleep(1000);
    }
    return false;
}

int cp(const char* path, int seconds) {
    std::unique_ptr<shm::Channel> ch;
    for (int i = 0; i < 200 && !ch; ++i) {
        auto r = shm::Channel::attach(path);
        if (r) ch = std::move(*r);
        else usleep(50'000);
    }
    if (!ch) {
        return fail(std::string("cannot attach ") + path);
    }
    auto& h = ch->header();
    h.cp_heartbeat_ns.store(mono_ns());
    shm::FullState st;
    st.cp_epoch = 0x5eed;
    h.cp_epoch.store(st.cp_epoch);
    auto spec = CipherSpec::parse(cipher_text());
    st.clusters.push_back({7, static_cast<uint8_t>(spec->method), spec->derived_key()});
    const char* ips[4] = {"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"};
    for (uint32_t i = 0; i < 4; ++i) {
        in_addr a;
        inet_pton(AF_INET, ips[i], &a);
        st.clients.push_back({10 + i, 7, ntohl(a.s_addr), {}});
    }
    const shm::Endpoint eps[3] = {kA, kB, kC};
    for (uint32_t i = 0; i < 3; ++i) st.endpoints.push_back({10 + i, eps[i], false, std::nullopt});
    const shm::PushWait wait{std::chrono::seconds(1), std::chrono::milliseconds(1), false, nullptr};
    shm::StateWriter writer(
        [&](shm::MsgType t, const void* body, uint32_t len) { return shm::push_control(*ch, wait, t, body, len); });
    writer.full_sync(st);
    // Live bindings (as after authenticated KeepAlives).
    for (const shm::EndpointState& e : st.endpoints) writer.endpoint_set(e);
    const uint64_t end = mono_ns() + static_cast<uint64_t>(seconds) * 1'000'000'000ull;
    bool replied = false;
    while (mono_ns() < end && ch->still_current()) {
        h.cp_heartbeat_ns.store(mono_ns());
        for (uint32_t ring = 0; ring < 2 * ch->workers(); ++ring) {
            auto& r = ring % 2 == 0 ? ch->dp_to_cp(ring / 2) : ch->deliver(ring / 2);
            while (const uint8_t* s = r.peek()) {
                const auto& mh = shm::msg_header(s);
                if (mh.type == static_cast<uint16_t>(shm::MsgType::Punt)) {
                    shm::PuntMsg p;
                    std::memcpy(&p, shm::msg_body(s), std::min<size_t>(mh.len, sizeof p));
                    std::printf("cp: Punt from %s hint %d type %u len %u\n", endpoint_text(p.from).c_str(),
                                p.client_hint == shm::kNoClientHint ? -1 : static_cast<int>(p.client_hint), p.frame[5], p.frame_len);
                    if (!replied) {  // answer with a KeepAlive over UDP
                        shm::TxFrameMsg tx{};
                        tx.to = p.from;
                        auto f = frame(FrameType::KeepAlive, {'{', '}'});
                        tx.frame_len = static_cast<uint16_t>(f.size());
                        std::memcpy(tx.frame, f.data(), f.size());
                        send(ch->tx(), shm::MsgType::TxFrame, &tx, static_cast<uint32_t>(32 + f.size()));
                        replied = true;
                    }
                } else if (mh.type == static_cast<uint16_t>(shm::MsgType::TcpDeliver)) {
                    shm::TcpDeliverMsg t;
                    std::memcpy(&t, shm::msg_body(s), std::min<size_t>(mh.len, sizeof t));
                    std::printf("cp: TcpDeliver %u -> %u len %u\n", t.src_client, t.dst_client, t.frame_len);
                }
                r.consume();
                r.release();
            }
        }
        usleep(20'000);
    }
    std::printf("cp: applied epoch %llx, sessions %llu/%llu\n", static_cast<unsigned long long>(h.dp_applied_cp_epoch.load()),
                static_cast<unsigned long long>(h.sessions.load()), static_cast<unsigned long long>(h.session_capacity.load()));
    return 0;
}

// The subcommands and their positional arguments.
struct SmokeCommand {
    const char* name;
    const char* operands;
    const char* about;
    size_t count;
};
constexpr SmokeCommand kCommands[] = {
    {"gen", "IN.pcap", "write the functional test's input pcap", 1},
    {"gen-relay", "OUT.pcap INNER_BYTES COUNT", "write COUNT relay frames of INNER_BYTES inner bytes", 3},
    {"cp", "CHANNEL SECONDS", "act as the control plane on CHANNEL for SECONDS", 2},
};

cli::Spec smoke_spec(const char* command = "", const char* operands = "COMMAND ARGS...", const char* about = "") {
    cli::Spec spec{.program = "rustun-dp-smoke", .command = command, .usage = operands, .about = about};
    if (*command == 0) {
        spec.epilog = "Commands:\n";
        for (const auto& c : kCommands)
            spec.epilog += "  " + std::string(c.name) + " " + c.operands + "\n      " + c.about + "\n";
    }
    spec.operands_allowed = *command != 0;
    spec.stop_at_operand = *command == 0;
    return spec;
}

}  // namespace

int main(int argc, char** argv) {
    set_log_process("rustun-dp-smoke");
    const cli::Spec top = smoke_spec();
    cli::Parsed a;
    if (auto code = cli::parse(top, argc, argv, a)) return *code;
    if (a.operands.empty()) return cli::usage_error(top, "a command is required (gen, gen-relay, cp)");
    for (const auto& c : kCommands) {
        if (a.operands[0] != c.name) continue;
        const cli::Spec spec = smoke_spec(c.name, c.operands, c.about);
        cli::Parsed sub;
        if (auto code = cli::parse(spec, argc, argv, sub, a.operand_index + 1)) return *code;
        if (sub.operands.size() != c.count) return cli::usage_error(spec, std::string("expected ") + c.operands);
        const auto& o = sub.operands;
        if (c.name == std::string("gen")) return gen(o[0].c_str());
        if (c.name == std::string("gen-relay"))
            return gen_relay(o[0].c_str(), static_cast<uint32_t>(std::atoi(o[1].c_str())),
                             static_cast<uint32_t>(std::atoi(o[2].c_str())));
        return cp(o[0].c_str(), std::atoi(o[1].c_str()));
    }
    return cli::usage_error(top, "unknown command '" + a.operands[0] + "'");
}
