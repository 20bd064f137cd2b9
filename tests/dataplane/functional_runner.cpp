// dp_functional_runner: runs one dataplane functional scenario (tests/dataplane/README.md), in the
// style of yanet's autotests: pcap in, pcap out, plus the shared-memory side (Punt/TcpDeliver
// messages and named counters).
//
//   dp_functional_runner --dataplane EXE --scenario DIR [--keep] [--timeout S]
//       Writes a gateway config into a temp dir, starts EXE --config FILE --wait-sync
//       --stop-when-idle 300 (killed with SIGTERM after --timeout s, default 30), attaches to its
//       channel as a control plane, pushes the scenario's clusters/clients/endpoints as one full
//       sync, writes cp_heartbeat_ns every 20 ms (unless `heartbeat: false`), collects the
//       messages of the dp_to_cp rings, waits for the exit, then compares OUT.pcap with
//       DIR/expect.pcap field by field and checks counters and messages. `workers: N` in
//       scenario.yaml: N net_pcap queue pairs, send.pcap split by `rx_queues`, OUT.q0..q(N-1).
//   dp_functional_runner --compare EXPECT.pcap OUT.pcap [--ignore f1,f2] [--udp-checksum-v4 MODE]
//       Only the pcap comparison (MODE: zero | zero_or_valid).
//   dp_functional_runner --selftest DIR
//       Checks the comparator on DIR/expect.pcap: equal to itself, and each hand-made mutation
//       (MAC, TTL, port, one frame byte, checksums, a missing packet) reported under its field.
//
// Exit: 0 pass, 1 fail, 77 skipped (not root, no hugepages), 2 usage/setup error.
#include <pcap/pcap.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <fcntl.h>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "crypto/cipher_spec.hpp"
#include "fleet/link_auth.hpp"
#include "net/pcap_writer.hpp"
#include "shm/channel.hpp"
#include "shm/control_push.hpp"
#include "shm/messages.hpp"
#include "shm/state_writer.hpp"
#include "util/clock.hpp"
#include "util/endian.hpp"
#include "util/endpoint_text.hpp"

namespace fs = std::filesystem;
using namespace rustun;
using Bytes = std::vector<uint8_t>;

namespace {

// ------------------------------------------------------------------------------------------------
// Formatting helpers

std::string hex(const uint8_t* p, size_t n) {
    static const char* d = "0123456789abcdef";
    std::string s;
    s.reserve(n * 2);
    for (size_t i = 0; i < n; ++i) {
        s += d[p[i] >> 4];
        s += d[p[i] & 15];
    }
    return s;
}
std::string hexn(uint64_t v, int width) {
    char b[32];
    std::snprintf(b, sizeof b, "0x%0*llx", width, static_cast<unsigned long long>(v));
    return b;
}
std::string mac_str(const uint8_t* p) {
    char b[32];
    std::snprintf(b, sizeof b, "%02x:%02x:%02x:%02x:%02x:%02x", p[0], p[1], p[2], p[3], p[4], p[5]);
    return b;
}
std::string ip4_str(const uint8_t* p) { return ip_text(true, p); }
std::string ip6_str(const uint8_t* p) { return ip_text(false, p); }

uint32_t csum_add(uint32_t sum, const uint8_t* p, size_t n) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += load_be16(p + i);
    if (n & 1) sum += uint32_t(p[n - 1]) << 8;
    return sum;
}
uint16_t csum_fold(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(sum);
}

// ------------------------------------------------------------------------------------------------
// Packet decoding into named fields

enum class Kind { Value, Bytes, IpCsum, UdpCsum };

struct Field {
    std::string name;
    std::string shown;  // human-readable value
    Bytes raw;          // compared for Value/Bytes
    Kind kind = Kind::Value;
    bool valid = false;     // checksums: the value is correct
    uint16_t value = 0;     // checksums
    uint16_t correct = 0;   // checksums: the correct value
    bool v4 = false;        // UdpCsum: carried over IPv4 (0 = none allowed)
};

struct Decoded {
    std::vector<Field> fields;
    std::string summary;
    Bytes udp_payload;  // empty if not UDP
    bool is_udp = false;
};

void add(Decoded& d, std::string name, std::string shown, Bytes raw, Kind k = Kind::Value) {
    Field f;
    f.name = std::move(name);
    f.shown = std::move(shown);
    f.raw = std::move(raw);
    f.kind = k;
    d.fields.push_back(std::move(f));
}
void add_int(Decoded& d, const std::string& name, uint64_t v, int hexw = 0) {
    std::string s = std::to_string(v);
    if (hexw) s += " (" + hexn(v, hexw) + ")";
    Bytes raw(8);
    std::memcpy(raw.data(), &v, 8);
    add(d, name, s, raw);
}
void add_bytes(Decoded& d, const std::string& name, const uint8_t* p, size_t n) {
    std::string s = std::to_string(n) + " bytes";
    if (n <= 24) s += " " + hex(p, n);
    add(d, name, s, Bytes(p, p + n), Kind::Bytes);
}

void decode_stun(Decoded& d, const uint8_t* p, size_t n) {
    add_int(d, "stun.type", load_be16(p), 4);
    add_int(d, "stun.length", load_be16(p + 2));
    add_int(d, "stun.cookie", load_be32(p + 4), 8);
    add(d, "stun.txid", hex(p + 8, 12), Bytes(p + 8, p + 20));
    size_t off = 20;
    std::map<uint16_t, int> seen;
    while (off + 4 <= n) {
        uint16_t t = load_be16(p + off), l = load_be16(p + off + 2);
        if (off + 4 + l > n) {
            add_bytes(d, "stun.truncated_attr", p + off, n - off);
            return;
        }
        const uint8_t* v = p + off + 4;
        std::string name = "stun.attr." + hexn(t, 4);
        if (seen[t]++) name += "#" + std::to_string(seen[t]);
        std::string shown = hex(v, l);
        if (t == 0x0020 && l >= 8) {  // XOR-MAPPED-ADDRESS: show it decoded
            uint16_t port = load_be16(v + 2) ^ 0x2112;
            uint8_t a[16];
            const uint8_t mask[16] = {0x21, 0x12, 0xa4, 0x42, p[8], p[9], p[10], p[11],
                                      p[12], p[13], p[14], p[15], p[16], p[17], p[18], p[19]};
            std::string addr;
            if (v[1] == 1 && l == 8) {
                for (int i = 0; i < 4; ++i) a[i] = v[4 + i] ^ mask[i];
                addr = ip4_str(a) + ":" + std::to_string(port);
            } else if (v[1] == 2 && l == 20) {
                for (int i = 0; i < 16; ++i) a[i] = v[4 + i] ^ mask[i];
                addr = "[" + ip6_str(a) + "]:" + std::to_string(port);
            }
            if (!addr.empty()) shown = "XOR-MAPPED-ADDRESS " + addr + " (" + shown + ")";
        }
        add(d, name, shown, Bytes(v, v + l));
        off += 4 + ((l + 3u) & ~3u);
    }
    if (off < n) add_bytes(d, "stun.trailing", p + off, n - off);
}

// The scenario's fleet key (`fleet.key`): output link frames are verified with it.
std::shared_ptr<const fleet::LinkKey> g_link_key;

// A fleet link frame (docs/fleet.md, "The link frame, byte by byte"): its salt, sequence and tag
// are per process (random, the clock), so they are fields of their own that a scenario ignores;
// `link.verified` says whether the tag verifies under the scenario's fleet key, and
// `link.salt_top_bit` whether the sender was a dataplane (1) or a control plane (0).
void decode_link(Decoded& d, const uint8_t* p, size_t n) {
    Bytes fixed(p, p + 16);
    fixed.insert(fixed.end(), p + 28, p + 32);
    add(d, "link.header", hex(fixed.data(), fixed.size()), fixed);
    add_bytes(d, "link.salt", p + 16, 4);
    add_int(d, "link.salt_top_bit", p[16] >> 7);
    add_bytes(d, "link.seq", p + 20, 8);
    add_bytes(d, "link.body", p + 32, n - 32 - 16);  // names and the relayed frame
    add_bytes(d, "link.tag", p + n - 16, 16);
    std::string verdict = "no fleet key";
    if (g_link_key) {
        auto auth = fleet::LinkAuth::create();
        fleet::LinkFrameView v;
        verdict = auth ? fleet::link_check_name(auth.value()->open(*g_link_key, {p, n}, v)) : auth.error();
    }
    add(d, "link.verified", verdict, Bytes(verdict.begin(), verdict.end()));
}

void decode_udp_payload(Decoded& d, const uint8_t* p, size_t n) {
    if (n >= 20 && (p[0] & 0xc0) == 0 && load_be32(p + 4) == 0x2112a442) {
        decode_stun(d, p, n);
        return;
    }
    if (n >= 48 && std::memcmp(p, "RFLK", 4) == 0) {
        decode_link(d, p, n);
        return;
    }
    if (n >= 8 && load_be32(p) == 0x91929394) {
        add_int(d, "rustun.version", p[4]);
        add_int(d, "rustun.type", p[5]);
        add_int(d, "rustun.length", load_be16(p + 6));
    }
    add_bytes(d, "udp.payload", p, n);  // the whole frame, byte for byte
}

Decoded decode(const uint8_t* p, size_t n) {
    Decoded d;
    if (n < 14) {
        add_bytes(d, "frame", p, n);
        d.summary = "runt frame of " + std::to_string(n) + " bytes";
        return d;
    }
    add(d, "eth.dst", mac_str(p), Bytes(p, p + 6));
    add(d, "eth.src", mac_str(p + 6), Bytes(p + 6, p + 12));
    uint16_t et = load_be16(p + 12);
    add_int(d, "eth.type", et, 4);
    const uint8_t* l3 = p + 14;
    size_t l3n = n - 14;
    uint8_t proto = 0;
    const uint8_t* l4 = nullptr;
    size_t l4n = 0;
    std::string src, dst;
    uint32_t pseudo = 0;
    bool v4 = false;
    if (et == 0x0800 && l3n >= 20) {
        v4 = true;
        size_t ihl = (l3[0] & 15) * 4u;
        add_int(d, "ip.version", l3[0] >> 4);
        add_int(d, "ip.ihl", ihl);
        add_int(d, "ip.tos", l3[1], 2);
        uint16_t tot = load_be16(l3 + 2);
        add_int(d, "ip.len", tot);
        add_int(d, "ip.id", load_be16(l3 + 4), 4);
        add_int(d, "ip.flags", l3[6] >> 5);
        add_int(d, "ip.frag", load_be16(l3 + 6) & 0x1fff);
        add_int(d, "ip.ttl", l3[8]);
        add_int(d, "ip.proto", l3[9]);
        if (ihl < 20 || ihl > l3n) {
            add_bytes(d, "ip.bad_header", l3, l3n);
            d.summary = "IPv4 with a bad header length";
            return d;
        }
        Field c;
        c.name = "ip.checksum";
        c.kind = Kind::IpCsum;
        c.value = load_be16(l3 + 10);
        uint8_t tmp[60];
        std::memcpy(tmp, l3, ihl);
        tmp[10] = tmp[11] = 0;
        c.correct = static_cast<uint16_t>(~csum_fold(csum_add(0, tmp, ihl)));
        c.valid = c.value == c.correct;
        c.shown = hexn(c.value, 4) + (c.valid ? " (valid)" : " (INVALID, correct " + hexn(c.correct, 4) + ")");
        d.fields.push_back(c);
        add(d, "ip.src", ip4_str(l3 + 12), Bytes(l3 + 12, l3 + 16));
        add(d, "ip.dst", ip4_str(l3 + 16), Bytes(l3 + 16, l3 + 20));
        if (ihl > 20) add_bytes(d, "ip.options", l3 + 20, ihl - 20);
        src = ip4_str(l3 + 12);
        dst = ip4_str(l3 + 16);
        proto = l3[9];
        size_t end = std::min<size_t>(tot, l3n);
        if (tot > l3n) add(d, "ip.len_exceeds_frame", "yes", {1});
        l4 = l3 + ihl;
        l4n = end > ihl ? end - ihl : 0;
        pseudo = csum_add(0, l3 + 12, 8) + proto + static_cast<uint32_t>(l4n);
    } else if (et == 0x86dd && l3n >= 40) {
        uint32_t w = load_be32(l3);
        add_int(d, "ip6.version", w >> 28);
        add_int(d, "ip6.tc", (w >> 20) & 0xff, 2);
        add_int(d, "ip6.fl", w & 0xfffff, 5);
        uint16_t plen = load_be16(l3 + 4);
        add_int(d, "ip6.plen", plen);
        add_int(d, "ip6.nh", l3[6]);
        add_int(d, "ip6.hlim", l3[7]);
        add(d, "ip6.src", ip6_str(l3 + 8), Bytes(l3 + 8, l3 + 24));
        add(d, "ip6.dst", ip6_str(l3 + 24), Bytes(l3 + 24, l3 + 40));
        src = "[" + ip6_str(l3 + 8) + "]";
        dst = "[" + ip6_str(l3 + 24) + "]";
        proto = l3[6];
        l4 = l3 + 40;
        l4n = std::min<size_t>(plen, l3n - 40);
        if (plen > l3n - 40) add(d, "ip6.plen_exceeds_frame", "yes", {1});
        pseudo = csum_add(0, l3 + 8, 32) + proto + static_cast<uint32_t>(l4n);
    } else {
        add_bytes(d, "eth.payload", l3, l3n);
        d.summary = "ethertype " + hexn(et, 4) + ", " + std::to_string(n) + " bytes";
        return d;
    }
    if (proto == 17 && l4n >= 8) {
        d.is_udp = true;
        add_int(d, "udp.sport", load_be16(l4));
        add_int(d, "udp.dport", load_be16(l4 + 2));
        add_int(d, "udp.len", load_be16(l4 + 4));
        Field c;
        c.name = "udp.checksum";
        c.kind = Kind::UdpCsum;
        c.v4 = v4;
        c.value = load_be16(l4 + 6);
        Bytes tmp(l4, l4 + l4n);
        tmp[6] = tmp[7] = 0;
        uint16_t correct = static_cast<uint16_t>(~csum_fold(csum_add(pseudo, tmp.data(), tmp.size())));
        if (correct == 0) correct = 0xffff;
        c.correct = correct;
        c.valid = c.value == correct;
        c.shown = c.value == 0 && v4 ? std::string("0 (none)")
                                     : hexn(c.value, 4) + (c.valid ? " (valid)" : " (INVALID, correct " + hexn(correct, 4) + ")");
        d.fields.push_back(c);
        d.udp_payload.assign(l4 + 8, l4 + l4n);
        decode_udp_payload(d, l4 + 8, l4n - 8);
        d.summary = std::string(v4 ? "IPv4" : "IPv6") + " UDP " + src + ":" + std::to_string(load_be16(l4)) + " > " + dst + ":" +
                    std::to_string(load_be16(l4 + 2)) + ", " + std::to_string(l4n - 8) + " payload bytes";
    } else {
        add_int(d, "l4.proto", proto);
        add_bytes(d, "l4.bytes", l4, l4n);
        d.summary = std::string(v4 ? "IPv4" : "IPv6") + " proto " + std::to_string(proto) + " " + src + " > " + dst;
    }
    return d;
}

// ------------------------------------------------------------------------------------------------
// pcap I/O

struct PcapPacket {
    Bytes data;
};

std::optional<std::vector<PcapPacket>> read_pcap(const std::string& path, std::string& err) {
    char eb[PCAP_ERRBUF_SIZE];
    pcap_t* p = pcap_open_offline(path.c_str(), eb);
    if (!p) {
        err = path + ": " + eb;
        return std::nullopt;
    }
    std::vector<PcapPacket> out;
    pcap_pkthdr* h;
    const u_char* data;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) out.push_back({Bytes(data, data + h->caplen)});
    if (rc == -1) {
        err = path + ": " + pcap_geterr(p);
        pcap_close(p);
        return std::nullopt;
    }
    pcap_close(p);
    return out;
}

// Packet i is stamped 1700000000 s + i ms.
bool write_pcap(const std::string& path, const std::vector<const PcapPacket*>& pkts, std::string& err) {
    PcapWriter w;
    Status st = w.open(path);
    uint64_t ts_us = 1'700'000'000'000'000ull;
    for (const PcapPacket* p : pkts) {
        if (!st) break;
        w.write(p->data.data(), static_cast<uint32_t>(p->data.size()), ts_us);
        ts_us += 1000;
    }
    if (st) st = w.close();
    if (!st) err = st.error();
    return st.ok();
}

// ------------------------------------------------------------------------------------------------
// Comparator

struct CompareOptions {
    std::vector<std::string> ignore;  // field names; a trailing '*' matches a prefix
    bool udp4_zero_or_valid = false;  // udp_checksum_v4: zero_or_valid
};

bool ignored(const CompareOptions& o, const std::string& name) {
    for (const auto& i : o.ignore) {
        if (!i.empty() && i.back() == '*') {
            if (name.compare(0, i.size() - 1, i, 0, i.size() - 1) == 0) return true;
        } else if (i == name) {
            return true;
        }
    }
    return false;
}

std::string bytes_diff(const Bytes& e, const Bytes& a) {
    size_t i = 0;
    while (i < e.size() && i < a.size() && e[i] == a[i]) ++i;
    std::ostringstream s;
    s << "expected " << e.size() << " bytes, got " << a.size() << " bytes";
    if (i < e.size() || i < a.size()) {
        s << "; first difference at offset " << i << ": expected "
          << (i < e.size() ? hex(e.data() + i, std::min<size_t>(16, e.size() - i)) : "<end>") << " got "
          << (i < a.size() ? hex(a.data() + i, std::min<size_t>(16, a.size() - i)) : "<end>");
    }
    return s.str();
}

// Differences between one expected and one actual packet, one line per field.
std::vector<std::string> diff_packet(const Decoded& e, const Decoded& a, const CompareOptions& o) {
    std::vector<std::string> out;
    auto find = [](const Decoded& d, const std::string& n) -> const Field* {
        for (const auto& f : d.fields)
            if (f.name == n) return &f;
        return nullptr;
    };
    auto line = [&](const std::string& name, const std::string& msg) {
        char b[64];
        std::snprintf(b, sizeof b, "    %-22s ", name.c_str());
        out.push_back(b + msg);
    };
    std::vector<std::string> names;
    for (const auto& f : e.fields) names.push_back(f.name);
    for (const auto& f : a.fields)
        if (!find(e, f.name)) names.push_back(f.name);
    for (const auto& n : names) {
        if (ignored(o, n)) continue;
        const Field* fe = find(e, n);
        const Field* fa = find(a, n);
        if (!fe) {
            line(n, "expected <absent>, got " + fa->shown);
            continue;
        }
        if (!fa) {
            line(n, "expected " + fe->shown + ", got <absent>");
            continue;
        }
        switch (fe->kind) {
            case Kind::IpCsum:
                if (!fa->valid) line(n, "expected a valid checksum, got " + fa->shown);
                break;
            case Kind::UdpCsum:
                if (fe->v4 && fe->value == 0) {
                    bool ok = fa->value == 0 || (o.udp4_zero_or_valid && fa->valid);
                    if (!ok)
                        line(n, std::string(o.udp4_zero_or_valid ? "expected 0 (none) or a valid checksum"
                                                                 : "expected 0 (none: contract for IPv4)") +
                                    ", got " + fa->shown);
                } else if (!fa->valid) {
                    line(n, "expected a valid checksum, got " + fa->shown);
                }
                break;
            case Kind::Bytes:
                if (fe->raw != fa->raw) line(n, bytes_diff(fe->raw, fa->raw));
                break;
            case Kind::Value:
                if (fe->raw != fa->raw) line(n, "expected " + fe->shown + ", got " + fa->shown);
                break;
        }
    }
    return out;
}

// Compares packet lists. Same count: packet i against packet i. Different counts: a greedy
// alignment so that one missing or extra packet is reported as such instead of shifting every
// later comparison. Returns the number of failing packets; writes a report.
int compare_pcaps(const std::vector<PcapPacket>& exp, const std::vector<PcapPacket>& act, const CompareOptions& o,
                  std::ostream& rep) {
    std::vector<Decoded> e, a;
    for (const auto& p : exp) e.push_back(decode(p.data.data(), p.data.size()));
    for (const auto& p : act) a.push_back(decode(p.data.data(), p.data.size()));
    auto same = [&](size_t i, size_t j) { return diff_packet(e[i], a[j], o).empty(); };
    int bad = 0;
    size_t i = 0, j = 0;
    while (i < e.size() || j < a.size()) {
        if (i < e.size() && j < a.size()) {
            if (e.size() != a.size() && !same(i, j)) {
                size_t k = j + 1;
                while (k < a.size() && !same(i, k)) ++k;
                if (k < a.size()) {  // a[j..k) are extra
                    for (; j < k; ++j, ++bad) rep << "  output #" << j << ": UNEXPECTED: " << a[j].summary << "\n";
                    continue;
                }
                size_t m = i + 1;
                while (m < e.size() && !same(m, j)) ++m;
                if (m < e.size()) {  // e[i..m) are missing
                    for (; i < m; ++i, ++bad) rep << "  expected #" << i << ": MISSING in output: " << e[i].summary << "\n";
                    continue;
                }
            }
            auto lines = diff_packet(e[i], a[j], o);
            if (lines.empty()) {
                rep << "  expected #" << i << " = output #" << j << ": ok (" << e[i].summary << ")\n";
            } else {
                ++bad;
                rep << "  expected #" << i << " vs output #" << j << ": " << lines.size() << " field(s) differ; expected "
                    << e[i].summary << ", got " << a[j].summary << "\n";
                for (const auto& l : lines) rep << l << "\n";
            }
            ++i, ++j;
        } else if (i < e.size()) {
            rep << "  expected #" << i << ": MISSING in output: " << e[i].summary << "\n";
            ++i, ++bad;
        } else {
            rep << "  output #" << j << ": UNEXPECTED: " << a[j].summary << "\n";
            ++j, ++bad;
        }
    }
    return bad;
}

// ------------------------------------------------------------------------------------------------
// Scenario

struct EndpointSpec {
    int family = 0;  // 0 none
    uint16_t port = 0;
    uint8_t addr[16] = {};
    std::string text;
};

bool parse_endpoint(const std::string& t, EndpointSpec& ep) {
    ep = {};
    ep.text = t;
    std::string host, port;
    if (!t.empty() && t[0] == '[') {
        auto r = t.find("]:");
        if (r == std::string::npos) return false;
        host = t.substr(1, r - 1);
        port = t.substr(r + 2);
        if (inet_pton(AF_INET6, host.c_str(), ep.addr) != 1) return false;
        ep.family = 6;
    } else {
        auto r = t.rfind(':');
        if (r == std::string::npos) return false;
        host = t.substr(0, r);
        port = t.substr(r + 1);
        if (inet_pton(AF_INET, host.c_str(), ep.addr) != 1) return false;
        ep.family = 4;
    }
    ep.port = static_cast<uint16_t>(std::stoul(port));
    return true;
}

struct ClientSpec {
    std::string identity;
    uint32_t id = 0;
    uint32_t cluster = 0;
    std::string private_ip;
    std::vector<std::string> cidrs;
    EndpointSpec endpoint;
    // The sync's EndpointSet flags (shm::kEndpoint*): `replay: true` (opted into Data replay
    // protection; `replay_floor_hi:` the floor's high 32 bits), `live: true` (the control plane
    // vouches for a recent KeepAlive from the endpoint, so it is live from the start).
    uint32_t ep_flags = 0;
    uint32_t replay_floor_hi = 0;
};
struct ClusterSpec {
    std::string name;
    std::string crypto;
};
struct PuntExp {
    int frame = -1;
    EndpointSpec from;
    std::string client;  // identity or "none"
};
struct TcpExp {
    int frame = -1;
    std::string src, dst;
};
struct Scenario {
    fs::path dir;
    std::string description;
    uint16_t relay_port = 51258;
    std::string address = "192.0.2.1", address6 = "2001:db8::1";
    bool heartbeat = true;
    // Slots of each punt ring (rustun-dataplane --punt-ring-slots), 0 = the default; with
    // drain_punts false the runner reads the punt rings only after the dataplane exited, so
    // that they fill up (TcpDeliver has its own rings and must still get through).
    uint32_t punt_ring_slots = 0;
    bool drain_punts = true;
    // After the sync, push malformed control messages (each must be counted as drop_bad_control).
    bool bad_control = false;
    uint32_t workers = 1;           // dataplane.workers = net_pcap queue pairs
    // `dataplane:` in scenario.yaml: further keys of the dataplane section, as written
    // (e.g. rx_descriptors), and `expect.log`: lines the dataplane's log must contain.
    std::vector<std::pair<std::string, std::string>> dataplane_keys;
    std::vector<std::string> log_contains;
    std::vector<uint32_t> rx_queues;  // RX queue of each send.pcap packet (default: all 0)
    std::vector<ClusterSpec> clusters;
    std::vector<ClientSpec> clients;
    std::map<std::string, uint64_t> counters;
    std::vector<PuntExp> punts;
    std::vector<TcpExp> tcp;
    CompareOptions cmp;
    // `fleet:` (docs/fleet.md, "UDP link through the dataplane"): the fleet key, our gateway id,
    // member slots and the clients online on them, pushed within the sync.
    std::optional<shm::FleetLinkState> fleet;
    std::string fleet_key;
    std::vector<std::pair<std::string, uint16_t>> remote;  // identity -> slot
};

shm::Endpoint to_shm(const EndpointSpec& e);

std::optional<Scenario> load_scenario(const fs::path& dir, std::string& err) {
    Scenario s;
    s.dir = dir;
    try {
        YAML::Node y = YAML::LoadFile((dir / "scenario.yaml").string());
        if (y["description"]) s.description = y["description"].as<std::string>();
        if (y["relay_port"]) s.relay_port = y["relay_port"].as<uint16_t>();
        if (y["address"]) s.address = y["address"].as<std::string>();
        if (y["address6"]) s.address6 = y["address6"].as<std::string>();
        if (y["heartbeat"]) s.heartbeat = y["heartbeat"].as<bool>();
        if (y["punt_ring_slots"]) s.punt_ring_slots = y["punt_ring_slots"].as<uint32_t>();
        if (y["drain_punts"]) s.drain_punts = y["drain_punts"].as<bool>();
        if (y["bad_control"]) s.bad_control = y["bad_control"].as<bool>();
        if (y["workers"]) s.workers = y["workers"].as<uint32_t>();
        if (y["dataplane"])
            for (const auto& kv : y["dataplane"]) s.dataplane_keys.emplace_back(kv.first.Scalar(), kv.second.Scalar());
        if (y["expect"] && y["expect"]["log"])
            for (const auto& l : y["expect"]["log"]) s.log_contains.push_back(l.as<std::string>());
        if (s.workers < 1 || s.workers > 8) {
            err = "workers must be 1..8";
            return std::nullopt;
        }
        if (y["rx_queues"])
            for (const auto& q : y["rx_queues"]) {
                s.rx_queues.push_back(q.as<uint32_t>());
                if (s.rx_queues.back() >= s.workers) {
                    err = "rx_queues: queue " + std::to_string(s.rx_queues.back()) + " >= workers";
                    return std::nullopt;
                }
            }
        uint32_t next_id = 0;
        const bool replay_all = y["replay"] && y["replay"].as<bool>();  // every client opted in
        for (const auto& c : y["clusters"]) {
            ClusterSpec cs{c["name"].as<std::string>(), c["crypto"].as<std::string>()};
            uint32_t cid = static_cast<uint32_t>(s.clusters.size());
            s.clusters.push_back(cs);
            for (const auto& k : c["clients"]) {
                ClientSpec cl;
                cl.identity = k["identity"].as<std::string>();
                cl.id = next_id++;
                cl.cluster = cid;
                cl.private_ip = k["private_ip"].as<std::string>();
                if (k["cidrs"])
                    for (const auto& x : k["cidrs"]) cl.cidrs.push_back(x.as<std::string>());
                if (k["endpoint"] && !parse_endpoint(k["endpoint"].as<std::string>(), cl.endpoint)) {
                    err = "bad endpoint of " + cl.identity;
                    return std::nullopt;
                }
                if (k["replay"] ? k["replay"].as<bool>() : replay_all) cl.ep_flags |= shm::kEndpointReplay;
                if (k["replay_floor_hi"]) cl.replay_floor_hi = k["replay_floor_hi"].as<uint32_t>();
                if (k["live"] && k["live"].as<bool>()) cl.ep_flags |= shm::kEndpointLive;
                s.clients.push_back(cl);
            }
        }
        if (const YAML::Node f = y["fleet"]) {
            shm::FleetLinkState fl;
            s.fleet_key = f["key"].as<std::string>();
            auto k = fleet::LinkKey::derive(s.fleet_key);
            if (!k) {
                err = "fleet.key: " + k.error();
                return std::nullopt;
            }
            fl.method = static_cast<uint8_t>(k.value().method);
            fl.key = k.value().bytes;
            fl.sender = f["gateway_id"].as<std::string>();
            for (const auto& p : f["peers"]) {
                shm::FleetLinkState::Peer peer;
                peer.slot = p["slot"].as<uint16_t>();
                peer.name = p["id"].as<std::string>();
                EndpointSpec ep;
                if (!parse_endpoint(p["endpoint"].as<std::string>(), ep)) {
                    err = "bad fleet peer endpoint";
                    return std::nullopt;
                }
                peer.endpoint = to_shm(ep);
                fl.peers.push_back(peer);
            }
            if (f["remote"])
                for (const auto& kv : f["remote"]) s.remote.emplace_back(kv.first.as<std::string>(), kv.second.as<uint16_t>());
            s.fleet = fl;
        }
        YAML::Node ex = y["expect"];
        if (ex["counters"])
            for (const auto& kv : ex["counters"]) s.counters[kv.first.as<std::string>()] = kv.second.as<uint64_t>();
        if (ex["punts"])
            for (const auto& p : ex["punts"]) {
                PuntExp e;
                e.frame = p["frame"].as<int>();
                if (!parse_endpoint(p["from"].as<std::string>(), e.from)) {
                    err = "bad punt endpoint";
                    return std::nullopt;
                }
                e.client = p["client"].as<std::string>();
                s.punts.push_back(e);
            }
        if (ex["tcp_deliver"])
            for (const auto& p : ex["tcp_deliver"])
                s.tcp.push_back({p["frame"].as<int>(), p["src"].as<std::string>(), p["dst"].as<std::string>()});
        if (ex["ignore"])
            for (const auto& i : ex["ignore"]) s.cmp.ignore.push_back(i.as<std::string>());
        if (ex["udp_checksum_v4"]) {
            std::string m = ex["udp_checksum_v4"].as<std::string>();
            if (m == "zero_or_valid") s.cmp.udp4_zero_or_valid = true;
            else if (m != "zero") {
                err = "udp_checksum_v4 must be zero or zero_or_valid";
                return std::nullopt;
            }
        }
    } catch (const std::exception& e) {
        err = (dir / "scenario.yaml").string() + ": " + e.what();
        return std::nullopt;
    }
    return s;
}

const ClientSpec* client_by_name(const Scenario& s, const std::string& id) {
    for (const auto& c : s.clients)
        if (c.identity == id) return &c;
    return nullptr;
}

std::string q(const std::string& v) { return "\"" + v + "\""; }

// With one worker: IN.pcap / OUT.pcap. With more: IN.q<N>.pcap / OUT.q<N>.pcap per queue.
std::string in_pcap_name(const Scenario& s, uint32_t q) {
    return s.workers == 1 ? "IN.pcap" : "IN.q" + std::to_string(q) + ".pcap";
}
std::string out_pcap_name(const Scenario& s, uint32_t q) {
    return s.workers == 1 ? "OUT.pcap" : "OUT.q" + std::to_string(q) + ".pcap";
}

std::string config_yaml(const Scenario& s, const fs::path& tmp, const std::string& channel, const std::string& prefix) {
    std::ostringstream y;
    y << "# generated by dp_functional_runner for " << s.dir.filename().string() << "\n";
    y << "listen:\n  tcp: 127.0.0.1:0\n  udp: 0.0.0.0:" << s.relay_port << "\n";
    y << "crypto: " << q(s.clusters.empty() ? "plain" : s.clusters[0].crypto) << "\n";
    y << "control_socket: " << q((tmp / "control.sock").string()) << "\n";
    y << "clusters:\n";
    for (size_t ci = 0; ci < s.clusters.size(); ++ci) {
        y << "  - name: " << q(s.clusters[ci].name) << "\n    crypto: " << q(s.clusters[ci].crypto) << "\n    clients:\n";
        bool any = false;
        for (const auto& c : s.clients) {
            if (c.cluster != ci) continue;
            any = true;
            std::string gw = c.private_ip.substr(0, c.private_ip.rfind('.')) + ".254";
            y << "      - identity: " << q(c.identity) << "\n        private_ip: " << c.private_ip
              << "\n        mask: 255.255.255.0\n        gateway: " << gw << "\n        ciders: [";
            for (size_t i = 0; i < c.cidrs.size(); ++i) y << (i ? ", " : "") << c.cidrs[i];
            y << "]\n";
        }
        if (!any) y << "      []\n";
    }
    // One net_pcap queue pair per worker: rx_pcap/tx_pcap given once per queue, in queue order.
    std::string vdev = "--vdev=net_pcap0";
    for (uint32_t q = 0; q < s.workers; ++q) vdev += ",rx_pcap=" + (tmp / in_pcap_name(s, q)).string();
    for (uint32_t q = 0; q < s.workers; ++q) vdev += ",tx_pcap=" + (tmp / out_pcap_name(s, q)).string();
    // Main lcore + one per worker. More workers than CPUs (this runs on 2-vCPU VMs): the lcores
    // float over CPUs 0-1 (the dataplane's idle loops yield, so that is slow but correct).
    const std::string lcores = s.workers == 1 ? "-l, \"0-1\"" : q("--lcores=(0-" + std::to_string(s.workers) + ")@(0-1)");
    y << "dataplane:\n  channel: " << q(channel) << "\n  eal_args: [--no-pci, --in-memory, " << q("--file-prefix=" + prefix)
      << ", " << lcores << ", " << q(vdev) << "]\n  port: net_pcap0\n  workers: " << s.workers << "\n  address: " << s.address
      << "\n  address6: " << q(s.address6) << "\n  exception: none\n";
    for (const auto& [k, v] : s.dataplane_keys) y << "  " << k << ": " << v << "\n";
    return y.str();
}

// ------------------------------------------------------------------------------------------------
// Channel (control-plane side)

// The runner's heartbeat is its own thread (or absent: `heartbeat: false`), never the pusher's.
bool push(shm::Channel& ch, shm::MsgType t, const void* body, uint32_t len) {
    const shm::PushWait wait{std::chrono::seconds(5), std::chrono::milliseconds(1), false, nullptr};
    return shm::push_control(ch, wait, t, body, len);
}

shm::Endpoint to_shm(const EndpointSpec& e) {
    shm::Endpoint x{};
    x.family = static_cast<uint8_t>(e.family);
    x.port = e.port;
    std::memcpy(x.addr, e.addr, e.family == 6 ? 16 : 4);
    return x;
}

bool parse_cidr(const std::string& t, uint32_t& net, uint8_t& len) {
    auto sl = t.find('/');
    in_addr a{};
    if (inet_pton(AF_INET, t.substr(0, sl).c_str(), &a) != 1) return false;
    len = sl == std::string::npos ? 32 : static_cast<uint8_t>(std::stoul(t.substr(sl + 1)));
    uint32_t mask = len == 0 ? 0 : ~0u << (32 - len);
    net = ntohl(a.s_addr) & mask;
    return true;
}

bool push_state(shm::Channel& ch, const Scenario& s, uint64_t epoch, std::string& err) {
    shm::FullState st;
    st.cp_epoch = epoch;
    for (size_t i = 0; i < s.clusters.size(); ++i) {
        auto spec = CipherSpec::parse(s.clusters[i].crypto);
        if (!spec) return err = "cluster " + s.clusters[i].name + ": bad crypto", false;
        st.clusters.push_back({static_cast<uint32_t>(i), static_cast<uint8_t>(spec->method), spec->derived_key(),
                               s.clusters[i].name});
    }
    for (const auto& c : s.clients) {
        shm::ClientState& m = st.clients.emplace_back();
        m.id = c.id;
        m.cluster_id = c.cluster;
        in_addr a{};
        inet_pton(AF_INET, c.private_ip.c_str(), &a);
        m.private_ip = ntohl(a.s_addr);
        for (const auto& t : c.cidrs) {
            shm::Cidr cidr{};
            if (!parse_cidr(t, cidr.network, cidr.prefix_len)) return err = "bad cidr " + t, false;
            m.cidrs.push_back(cidr);
        }
        if (!c.endpoint.family) continue;
        shm::EndpointState& e = st.endpoints.emplace_back();
        e.client_id = c.id;
        e.endpoint = to_shm(c.endpoint);
        e.live = (c.ep_flags & shm::kEndpointLive) != 0;
        if (c.ep_flags & shm::kEndpointReplay) e.replay_floor = uint64_t{c.replay_floor_hi} << 32;
    }
    if (s.fleet) {
        st.fleet = s.fleet;
        for (const auto& [identity, slot] : s.remote) {
            const ClientSpec* c = client_by_name(s, identity);
            if (!c) return err = "fleet.remote names an unknown client " + identity, false;
            st.fleet->remote.emplace_back(c->id, slot);
        }
    }
    shm::StateWriter writer([&](shm::MsgType t, const void* body, uint32_t len) { return push(ch, t, body, len); });
    if (!writer.full_sync(st))
        return err = "control ring full after " + std::to_string(writer.pushed()) + " message(s) of the sync", false;
    if (s.bad_control) {
        // A control plane gone wrong: each of these is refused and counted (drop_bad_control),
        // and the dataplane carries on with the state it has.
        uint8_t junk[shm::kMaxBody] = {};
        uint8_t* slot = ch.control().reserve();
        if (slot == nullptr) return err = "control ring full", false;
        shm::MsgHeader h{static_cast<uint16_t>(shm::MsgType::ClientRemove), 0, shm::kMaxBody + 1};  // beyond the slot
        std::memcpy(slot, &h, sizeof h);
        ch.control().commit();
        shm::ClusterSetMsg cs{};
        cs.key_len = 1024;  // beyond the body sent
        if (!push(ch, shm::MsgType::ClusterSet, &cs, 8 + 16)) return err = "control ring full", false;
        if (!push(ch, static_cast<shm::MsgType>(99), junk, 0)) return err = "control ring full", false;
        if (!push(ch, shm::MsgType::EndpointSet, junk, 4)) return err = "control ring full", false;  // short
    }
    return true;
}

struct Msg {
    shm::MsgType type;
    shm::Endpoint from{};
    uint32_t hint = 0, src = 0, dst = 0;
    Bytes frame;
    uint32_t worker = 0;
};

void drain(shm::Channel& ch, std::vector<Msg>& out, bool punts = true) {
    for (uint32_t ring = 0; ring < 2 * ch.workers(); ++ring) {
        // Per worker: its punt ring (DpToCp) and its TcpDeliver ring (DpToCpDeliver).
        const uint32_t w = ring / 2;
        if (ring % 2 == 0 && !punts) continue;
        auto& r = ring % 2 == 0 ? ch.dp_to_cp(w) : ch.deliver(w);
        bool any = false;
        while (const uint8_t* slot = r.peek()) {
            any = true;
            const auto& h = shm::msg_header(slot);
            Msg m;
            m.type = static_cast<shm::MsgType>(h.type);
            m.worker = w;
            if (m.type == shm::MsgType::Punt && h.len >= 32) {
                shm::PuntMsg p;
                std::memcpy(&p, shm::msg_body(slot), std::min<size_t>(h.len, sizeof p));
                m.from = p.from;
                m.hint = p.client_hint;
                m.frame.assign(p.frame, p.frame + std::min<uint32_t>(p.frame_len, shm::kMaxFrameInSlot));
            } else if (m.type == shm::MsgType::TcpDeliver && h.len >= 32) {
                shm::TcpDeliverMsg p;
                std::memcpy(&p, shm::msg_body(slot), std::min<size_t>(h.len, sizeof p));
                m.src = p.src_client;
                m.dst = p.dst_client;
                m.frame.assign(p.frame, p.frame + std::min<uint32_t>(p.frame_len, shm::kMaxFrameInSlot));
            }
            out.push_back(std::move(m));
            r.consume();
        }
        if (any) r.release();
    }
}

std::string ep_str(const shm::Endpoint& e) {
    if (e.family == 4 || e.family == 6) return endpoint_text(e);
    return "<family " + std::to_string(e.family) + ">";
}

// ------------------------------------------------------------------------------------------------
// Process control

std::atomic<pid_t> g_child{0};
std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

bool hugepages_available(std::string& why) {
    std::ifstream f("/proc/meminfo");
    std::string line;
    long total = -1, free_ = -1;
    while (std::getline(f, line)) {
        if (line.rfind("HugePages_Total:", 0) == 0) total = std::stol(line.substr(16));
        if (line.rfind("HugePages_Free:", 0) == 0) free_ = std::stol(line.substr(15));
    }
    if (total <= 0) return why = "no hugepages configured (echo 1024 > /proc/sys/vm/nr_hugepages)", false;
    if (free_ < 64) return why = "fewer than 64 free hugepages (" + std::to_string(free_) + ")", false;
    return true;
}

std::string tail_file(const fs::path& p, size_t lines) {
    std::ifstream f(p);
    std::vector<std::string> v;
    std::string l;
    while (std::getline(f, l)) v.push_back(l);
    std::string out;
    for (size_t i = v.size() > lines ? v.size() - lines : 0; i < v.size(); ++i) out += "    | " + v[i] + "\n";
    return out;
}

int run_scenario(const std::string& exe, const fs::path& dir, bool keep, int timeout_s) {
    std::string err;
    auto sc = load_scenario(dir, err);
    if (!sc) {
        std::cerr << "error: " << err << "\n";
        return 2;
    }
    const Scenario& s = *sc;
    if (!s.fleet_key.empty()) {
        auto k = fleet::LinkKey::create(s.fleet_key);
        if (!k) {
            std::cerr << "error: fleet.key: " << k.error() << "\n";
            return 2;
        }
        g_link_key = std::move(k).value();
    }
    const std::string name = dir.filename().string();
    std::cout << "scenario " << name << ": " << s.description << "\n";
    if (geteuid() != 0) {
        std::cout << "SKIP: not running as root (DPDK needs hugepages)\n";
        return 77;
    }
    if (!hugepages_available(err)) {
        std::cout << "SKIP: " << err << "\n";
        return 77;
    }
    auto send = read_pcap((dir / "send.pcap").string(), err);
    auto expect = send ? read_pcap((dir / "expect.pcap").string(), err) : std::nullopt;
    if (!send || !expect) {
        std::cerr << "error: " << err << " (run tests/dataplane/regen.sh)\n";
        return 2;
    }

    char tmpl[] = "/tmp/rustun-dpt-XXXXXX";
    if (!mkdtemp(tmpl)) {
        std::cerr << "error: mkdtemp: " << strerror(errno) << "\n";
        return 2;
    }
    fs::path tmp = tmpl;
    const std::string tag = std::to_string(getpid()) + "-" + tmp.filename().string().substr(11);
    // In the work dir (mkdtemp: 0700, ours): the control plane refuses a channel in a
    // world-writable directory such as /dev/shm.
    const std::string channel = (tmp / "channel").string();
    const std::string prefix = "rustun-dpt-" + tag;
    fs::copy_file(dir / "send.pcap", tmp / "IN.pcap");
    if (s.workers > 1) {  // split send.pcap over the RX queues (order kept within a queue)
        if (!s.rx_queues.empty() && s.rx_queues.size() != send->size()) {
            std::cerr << "error: rx_queues lists " << s.rx_queues.size() << " queues for " << send->size()
                      << " packets in send.pcap\n";
            return 2;
        }
        for (uint32_t q = 0; q < s.workers; ++q) {
            std::vector<const PcapPacket*> part;
            for (size_t i = 0; i < send->size(); ++i)
                if ((s.rx_queues.empty() ? 0 : s.rx_queues[i]) == q) part.push_back(&(*send)[i]);
            if (!write_pcap((tmp / in_pcap_name(s, q)).string(), part, err)) {
                std::cerr << "error: " << err << "\n";
                return 2;
            }
        }
    }
    {
        std::ofstream c(tmp / "config.yaml");
        c << config_yaml(s, tmp, channel, prefix);
    }
    const fs::path log = tmp / "dataplane.log";
    std::cout << "  work dir " << tmp.string() << "\n";

    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    pid_t pid = fork();
    if (pid < 0) {
        std::cerr << "error: fork: " << strerror(errno) << "\n";
        return 2;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive the runner
        int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        std::string cfg = (tmp / "config.yaml").string();
        const std::string slots = std::to_string(s.punt_ring_slots);
        if (s.punt_ring_slots)
            execl(exe.c_str(), exe.c_str(), "--config", cfg.c_str(), "--wait-sync", "--stop-when-idle", "300",
                  "--punt-ring-slots", slots.c_str(), static_cast<char*>(nullptr));
        else
            execl(exe.c_str(), exe.c_str(), "--config", cfg.c_str(), "--wait-sync", "--stop-when-idle", "300",
                  static_cast<char*>(nullptr));
        std::perror("exec");
        _exit(127);
    }
    g_child = pid;
    const auto t0 = std::chrono::steady_clock::now();
    auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };

    std::vector<std::string> failures;
    int status = 0;
    bool exited = false, killed = false;
    auto poll_child = [&]() {
        if (exited) return true;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) exited = true;
        return exited;
    };
    auto stop_child = [&](const char* why) {
        if (poll_child()) return;
        std::cout << "  stopping the dataplane (" << why << ")\n";
        kill(pid, SIGTERM);
        killed = true;
        for (int i = 0; i < 500 && !poll_child(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (!exited) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            exited = true;
        }
    };

    // Attach: retry until the dataplane has published the segment.
    std::unique_ptr<shm::Channel> ch;
    std::string attach_err;
    while (!ch) {
        auto r = shm::Channel::attach(channel);
        if (r) {
            ch = std::move(*r);
            break;
        }
        attach_err = r.error();
        if (poll_child() || g_stop || elapsed() > std::min(20, timeout_s)) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::vector<Msg> msgs;
    std::atomic<bool> hb_run{true};
    std::thread hb;
    uint64_t epoch = 0;
    if (!ch) {
        failures.push_back("could not attach to the channel " + channel + ": " + attach_err +
                           (exited ? " (the dataplane exited)" : ""));
        stop_child("no channel");
    } else {
        epoch = (static_cast<uint64_t>(time(nullptr)) << 20) ^ static_cast<uint64_t>(getpid());
        ch->header().cp_pid.store(static_cast<uint32_t>(getpid()));
        ch->header().cp_epoch.store(epoch);
        if (s.heartbeat) {
            ch->header().cp_heartbeat_ns.store(mono_ns());
            hb = std::thread([&] {
                while (hb_run) {
                    ch->header().cp_heartbeat_ns.store(mono_ns(), std::memory_order_release);
                    std::this_thread::sleep_for(std::chrono::milliseconds(20));
                }
            });
        }
        if (!push_state(*ch, s, epoch, err)) failures.push_back("sync: " + err);
        std::cout << "  pushed: " << s.clusters.size() << " cluster(s), " << s.clients.size() << " client(s), cp_epoch " << epoch
                  << (s.heartbeat ? ", cp_heartbeat_ns every 20 ms" : ", no cp_heartbeat_ns (control plane absent)")
                  << " (cp_heartbeat_ns now " << ch->header().cp_heartbeat_ns.load() << ")\n";
        while (!poll_child()) {
            drain(*ch, msgs, s.drain_punts);
            if (g_stop) {
                stop_child("runner interrupted");
                failures.push_back("interrupted");
                break;
            }
            if (elapsed() > timeout_s) {
                stop_child("timeout");
                failures.push_back("the dataplane did not exit within " + std::to_string(timeout_s) +
                                   " s (--stop-when-idle 300 should have stopped it)");
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        drain(*ch, msgs);
        hb_run = false;
        if (hb.joinable()) hb.join();
    }
    std::cout << "  dataplane ran " << elapsed() << " s\n";
    if (!killed) {
        if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
            failures.push_back("the dataplane exited with status " + std::to_string(WEXITSTATUS(status)));
        if (WIFSIGNALED(status)) failures.push_back("the dataplane died of signal " + std::to_string(WTERMSIG(status)));
    }

    std::ostringstream rep;
    if (ch) {
        uint64_t applied = ch->header().dp_applied_cp_epoch.load();
        if (applied != epoch)
            failures.push_back("dp_applied_cp_epoch = " + std::to_string(applied) + ", expected the pushed cp_epoch " +
                               std::to_string(epoch) + " (sync not applied?)");
        // Counters: listed ones exactly; rx_packets/tx_packets default to the pcap sizes; every
        // other drop_* must be 0.
        std::map<std::string, uint64_t> want = s.counters;
        want.emplace("rx_packets", send->size());
        want.emplace("tx_packets", expect->size());
        rep << "  counters:\n";
        for (size_t i = 0; i < shm::kDpCounterCount; ++i) {
            const std::string n = shm::kDpCounterInfo[i].name;
            uint64_t v = ch->counter_total(static_cast<shm::DpCounter>(i));
            auto it = want.find(n);
            bool checked = it != want.end() || n.rfind("drop_", 0) == 0;
            uint64_t w = it != want.end() ? it->second : 0;
            if (v || it != want.end()) rep << "    " << n << " = " << v << (checked && v != w ? "   <-- expected " + std::to_string(w) : "") << "\n";
            if (checked && v != w)
                failures.push_back("counter " + n + " = " + std::to_string(v) + ", expected " + std::to_string(w));
        }
        // Runtime counters (docs/dataplane.md, "Runtime"): every burst is in one histogram bucket,
        // every received packet in a timed or a stalled burst, and a worker that received timed
        // its busy cycles.
        {
            auto total = [&](shm::DpCounter c) { return ch->counter_total(c); };
            using D = shm::DpCounter;
            const uint64_t bursts = total(D::rt_burst_1) + total(D::rt_burst_2_3) + total(D::rt_burst_4_7) +
                                    total(D::rt_burst_8_15) + total(D::rt_burst_16_31) + total(D::rt_burst_32_plus);
            if (bursts != total(D::rt_busy_polls))
                failures.push_back("runtime: burst histogram sums to " + std::to_string(bursts) + ", rt_busy_polls = " +
                                   std::to_string(total(D::rt_busy_polls)));
            const uint64_t rx = total(D::rx_packets);
            if (rx && total(D::rt_busy_polls) == 0) failures.push_back("runtime: packets received but no busy poll counted");
            if (rx > total(D::rt_stalled_packets) && total(D::rt_cycles_busy) == 0)
                failures.push_back("runtime: packets received in timed bursts but rt_cycles_busy = 0");
            if (total(D::rt_busy_polls) > rx) failures.push_back("runtime: more bursts than packets");
        }
        for (const auto& [n, v] : want) {
            bool known = false;
            for (const auto& info : shm::kDpCounterInfo) known |= n == info.name;
            if (!known) failures.push_back("scenario names an unknown counter " + n);
        }
        // Messages.
        auto frame_of = [&](int idx) -> std::optional<Bytes> {
            if (idx < 0 || static_cast<size_t>(idx) >= send->size()) return std::nullopt;
            Decoded d = decode((*send)[idx].data.data(), (*send)[idx].data.size());
            return d.udp_payload;
        };
        std::vector<bool> used(msgs.size(), false);
        rep << "  messages: " << msgs.size() << "\n";
        for (const auto& m : msgs) {
            if (m.type == shm::MsgType::Punt)
                rep << "    Punt from " << ep_str(m.from) << " hint " << (m.hint == shm::kNoClientHint ? std::string("none") : std::to_string(m.hint))
                    << " frame " << m.frame.size() << " bytes (type " << (m.frame.size() > 5 ? int(m.frame[5]) : -1) << ")"
                    << (s.workers > 1 ? ", ring of worker " + std::to_string(m.worker) : std::string()) << "\n";
            else if (m.type == shm::MsgType::TcpDeliver)
                rep << "    TcpDeliver " << m.src << " -> " << m.dst << " frame " << m.frame.size() << " bytes"
                    << (s.workers > 1 ? ", ring of worker " + std::to_string(m.worker) : std::string()) << "\n";
            else
                rep << "    message type " << static_cast<int>(m.type) << "\n";
        }
        for (const auto& p : s.punts) {
            auto f = frame_of(p.frame);
            uint32_t hint = shm::kNoClientHint;
            if (p.client != "none") {
                const ClientSpec* c = client_by_name(s, p.client);
                if (!c) {
                    failures.push_back("punt expectation names unknown client " + p.client);
                    continue;
                }
                hint = c->id;
            }
            shm::Endpoint want_ep = to_shm(p.from);
            bool found = false;
            std::string near;
            for (size_t i = 0; i < msgs.size() && !found; ++i) {
                const Msg& m = msgs[i];
                if (used[i] || m.type != shm::MsgType::Punt || !f || m.frame != *f) continue;
                std::vector<std::string> d;
                if (std::memcmp(&m.from, &want_ep, sizeof want_ep) != 0) d.push_back("from " + ep_str(m.from) + " (expected " + p.from.text + ")");
                if (m.hint != hint) d.push_back("client_hint " + std::to_string(m.hint) + " (expected " + std::to_string(hint) + " = " + p.client + ")");
                if (d.empty()) {
                    used[i] = found = true;
                } else if (near.empty()) {
                    for (const auto& x : d) near += (near.empty() ? "" : ", ") + x;
                }
            }
            if (!found)
                failures.push_back("no Punt of send.pcap #" + std::to_string(p.frame) + " from " + p.from.text + " (client " + p.client +
                                   ")" + (near.empty() ? std::string(": no Punt carries that frame's bytes") : ": closest Punt has " + near));
        }
        for (const auto& t : s.tcp) {
            auto f = frame_of(t.frame);
            // `src: fleet-link`: the frame came in a link frame (TcpDeliver source kFromFleetLink);
            // the message carries the relayed frame, which is the link frame's body after its names.
            const bool from_link = t.src == "fleet-link";
            const ClientSpec* a = from_link ? nullptr : client_by_name(s, t.src);
            const ClientSpec* b = client_by_name(s, t.dst);
            if ((!a && !from_link) || !b) {
                failures.push_back("tcp_deliver expectation names an unknown client");
                continue;
            }
            const uint32_t src_id = from_link ? shm::kFromFleetLink : a->id;
            auto carries = [&](const Bytes& frame) {
                if (!f) return false;
                if (!from_link) return frame == *f;
                // The link frame's relayed bytes: after the header and names, before the tag.
                return f->size() >= frame.size() + 16 && std::equal(frame.begin(), frame.end(), f->end() - 16 - frame.size());
            };
            bool found = false;
            for (size_t i = 0; i < msgs.size() && !found; ++i) {
                const Msg& m = msgs[i];
                if (!used[i] && m.type == shm::MsgType::TcpDeliver && carries(m.frame) && m.src == src_id && m.dst == b->id)
                    used[i] = found = true;
            }
            if (!found)
                failures.push_back("no TcpDeliver of send.pcap #" + std::to_string(t.frame) + " from " + t.src + " (" + std::to_string(src_id) +
                                   ") to " + t.dst + " (" + std::to_string(b->id) + ") with the frame bytes unchanged");
        }
        for (size_t i = 0; i < msgs.size(); ++i)
            if (!used[i])
                failures.push_back(std::string("unexpected ") +
                                   (msgs[i].type == shm::MsgType::Punt ? "Punt from " + ep_str(msgs[i].from)
                                    : msgs[i].type == shm::MsgType::TcpDeliver
                                        ? "TcpDeliver " + std::to_string(msgs[i].src) + " -> " + std::to_string(msgs[i].dst)
                                        : "message type " + std::to_string(static_cast<int>(msgs[i].type))));
    }

    // Output pcap.
    // Several queues: each worker transmits on its own queue in order, the queues are compared
    // one after the other (expect.pcap lists queue 0's packets, then queue 1's, ...).
    std::optional<std::vector<PcapPacket>> out = std::vector<PcapPacket>{};
    for (uint32_t q = 0; q < s.workers && out; ++q) {
        auto part = read_pcap((tmp / out_pcap_name(s, q)).string(), err);
        if (!part) out.reset();
        else out->insert(out->end(), part->begin(), part->end());
    }
    rep << "  " << (s.workers == 1 ? std::string("OUT.pcap") : "OUT.q0..q" + std::to_string(s.workers - 1) + ".pcap")
        << " vs expect.pcap";
    if (!s.cmp.ignore.empty()) {
        rep << " (ignoring";
        for (const auto& i : s.cmp.ignore) rep << " " << i;
        rep << ")";
    }
    rep << ":\n";
    if (!out) {
        failures.push_back("no output pcap: " + err);
    } else {
        int bad = compare_pcaps(*expect, *out, s.cmp, rep);
        if (bad) failures.push_back(std::to_string(bad) + " packet(s) differ (" + std::to_string(expect->size()) + " expected, " +
                                    std::to_string(out->size()) + " sent)");
    }
    if (!s.log_contains.empty()) {
        std::ifstream lf(log);
        std::stringstream text;
        text << lf.rdbuf();
        for (const auto& l : s.log_contains)
            if (text.str().find(l) == std::string::npos) failures.push_back("the dataplane log lacks \"" + l + "\"");
    }
    std::cout << rep.str();
    ch.reset();
    ::unlink(channel.c_str());
    if (failures.empty()) {
        std::cout << "PASS " << name << "\n";
        if (!keep) fs::remove_all(tmp);
        return 0;
    }
    std::cout << "  dataplane log (" << log.string() << "), last lines:\n" << tail_file(log, 25);
    std::cout << "FAIL " << name << ":\n";
    for (const auto& f : failures) std::cout << "  - " << f << "\n";
    std::cout << "  (work dir kept: " << tmp.string() << ")\n";
    return 1;
}

// ------------------------------------------------------------------------------------------------
// Self-test of the comparator

int selftest(const fs::path& dir) {
    std::string err;
    auto exp = read_pcap((dir / "expect.pcap").string(), err);
    if (!exp || exp->empty()) {
        std::cerr << "selftest needs a non-empty " << (dir / "expect.pcap") << ": " << err << "\n";
        return 2;
    }
    CompareOptions o;
    int fails = 0;
    auto check = [&](const std::string& what, std::vector<PcapPacket> act, const std::string& must, bool zero_or_valid = false) {
        std::ostringstream r;
        CompareOptions oo = o;
        oo.udp4_zero_or_valid = zero_or_valid;
        int bad = compare_pcaps(*exp, act, oo, r);
        bool ok = must.empty() ? bad == 0 : (bad > 0 && r.str().find(must) != std::string::npos);
        std::cout << (ok ? "ok   " : "FAIL ") << what << "\n";
        if (!ok || !must.empty()) std::cout << r.str();
        fails += !ok;
    };
    check("identical", *exp, "");
    auto mut = [&](std::function<void(Bytes&)> f) {
        auto v = *exp;
        f(v[0].data);
        return v;
    };
    const size_t l3 = 14;
    const bool v4 = load_be16((*exp)[0].data.data() + 12) == 0x0800;
    const size_t l4 = l3 + (v4 ? ((*exp)[0].data[l3] & 15) * 4u : 40u);
    check("eth.dst changed", mut([&](Bytes& b) { b[5] ^= 1; }), "eth.dst");
    check("eth.src changed", mut([&](Bytes& b) { b[11] ^= 1; }), "eth.src");
    if (v4) {
        check("ip.ttl 64 -> 63 (checksum left stale)", mut([&](Bytes& b) { b[l3 + 8] = 63; }), "ip.ttl");
        check("stale checksum reported", mut([&](Bytes& b) { b[l3 + 8] = 63; }), "ip.checksum");
        check("ip.checksum broken", mut([&](Bytes& b) { b[l3 + 10] ^= 0xff; }), "ip.checksum");
        check("ip.dst changed", mut([&](Bytes& b) { b[l3 + 19] ^= 1; }), "ip.dst");
        {
            auto v = mut([&](Bytes& b) { b[l3 + 4] = 0x12; b[l3 + 10] = 0; b[l3 + 11] = 0; });
            Bytes& b = v[0].data;
            uint16_t c = static_cast<uint16_t>(~csum_fold(csum_add(0, b.data() + l3, 20)));
            b[l3 + 10] = static_cast<uint8_t>(c >> 8);
            b[l3 + 11] = static_cast<uint8_t>(c);
            o.ignore = {"ip.id"};
            check("ip.id changed, checksum fixed, ip.id ignored", v, "");
            o.ignore = {};
            check("ip.id changed, not ignored", v, "ip.id");
        }
        check("udp checksum set where 0 is required", mut([&](Bytes& b) { b[l4 + 6] = 0x12; b[l4 + 7] = 0x34; }), "udp.checksum");
    } else {
        check("ip6.hlim changed", mut([&](Bytes& b) { b[l3 + 7] = 63; }), "ip6.hlim");
        check("udp checksum broken", mut([&](Bytes& b) { b[l4 + 7] ^= 1; }), "udp.checksum");
    }
    check("udp.sport changed", mut([&](Bytes& b) { b[l4 + 1] ^= 1; }), "udp.sport");
    bool stun = false;
    for (const auto& f : decode((*exp)[0].data.data(), (*exp)[0].data.size()).fields) stun |= f.name == "stun.type";
    check("one payload byte changed", mut([&](Bytes& b) { b.back() ^= 0x40; }), stun ? "stun.attr.0x0020" : "first difference at offset");
    check("packet missing", std::vector<PcapPacket>(exp->begin() + 1, exp->end()), "MISSING");
    {
        auto v = *exp;
        v.push_back(v[0]);
        check("extra packet", v, "UNEXPECTED");
    }
    std::cout << (fails ? "selftest FAILED\n" : "selftest passed\n");
    return fails ? 1 : 0;
}

int usage() {
    std::cerr << "usage: dp_functional_runner --dataplane EXE --scenario DIR [--keep] [--timeout S]\n"
                 "       dp_functional_runner --compare EXPECT.pcap OUT.pcap [--ignore f1,f2] [--udp-checksum-v4 zero|zero_or_valid]\n"
                 "       dp_functional_runner --selftest DIR\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::string exe, scenario, selftest_dir, cmp_a, cmp_b;
    bool keep = false;
    int timeout_s = 30;
    CompareOptions o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--dataplane") exe = next();
        else if (a == "--scenario") scenario = next();
        else if (a == "--keep") keep = true;
        else if (a == "--timeout") timeout_s = std::stoi(next());
        else if (a == "--selftest") selftest_dir = next();
        else if (a == "--compare") {
            cmp_a = next();
            cmp_b = next();
        } else if (a == "--ignore") {
            std::stringstream ss(next());
            std::string f;
            while (std::getline(ss, f, ',')) o.ignore.push_back(f);
        } else if (a == "--udp-checksum-v4") {
            o.udp4_zero_or_valid = next() == "zero_or_valid";
        } else {
            return usage();
        }
    }
    if (!selftest_dir.empty()) return selftest(selftest_dir);
    if (!cmp_a.empty()) {
        std::string err;
        auto e = read_pcap(cmp_a, err);
        auto a = e ? read_pcap(cmp_b, err) : std::nullopt;
        if (!e || !a) {
            std::cerr << "error: " << err << "\n";
            return 2;
        }
        int bad = compare_pcaps(*e, *a, o, std::cout);
        std::cout << (bad ? "DIFFERENT: " + std::to_string(bad) + " packet(s)\n" : std::string("SAME\n"));
        return bad ? 1 : 0;
    }
    if (exe.empty() || scenario.empty()) return usage();
    fs::path dir = fs::path(scenario).lexically_normal();
    if (dir.filename().empty()) dir = dir.parent_path();  // "DIR/" -> "DIR"
    return run_scenario(exe, dir, keep, timeout_s);
}
