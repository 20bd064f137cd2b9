// Frame bodies of docs/protocol.md, "Message bodies" (JSON plaintext of types 1, 2, 4, 5, 6, 7; Data is raw bytes and
// has no body codec). Encoders produce exactly what serde_json::to_string produces for the
// chosen reference shape; decoders follow docs/protocol.md, "JSON encoding" (proto/json_reader.hpp).
//
// Shapes: Old = commit dbde974, New = commit HEAD (cadd0ec). Encoders append to `out` (which may
// already hold e.g. a reserved frame header); payload size limits are the framing layer's job.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.hpp"

namespace rustun {

enum class Shape : uint8_t { Old, New };

// HandshakeReply encodings. Superset = docs/protocol.md, "HandshakeReply: the superset": every member of both shapes
// (name, private_ip, mask, gateway, ciders, cider_mapping, peer_details, others, ipv6) with
// `others` carrying the same PeerDetail objects as `peer_details`; both client generations
// accept it.
enum class ReplyShape : uint8_t { Old, New, Superset };

// How a decoder judges required members.
enum class DecodeMode : uint8_t {
    Lenient,    // gateway use: the members common to both shapes are required, the others are
                // read when present (and must then have the right type)
    StrictOld,  // exactly what the dbde974 reference requires (unknown members ignored)
    StrictNew,  // exactly what the HEAD reference requires (unknown members ignored)
};

// HEAD peer entry (docs/protocol.md, "Peer entries"). The dbde974 entry RouteItem (identity, private_ip, ciders,
// ipv6, port) is its projection and has no struct of its own: an Old-shape reply decodes into
// PeerDetail with name, stun_ip empty and stun_port, last_active 0.
struct PeerDetail {
    std::string name;
    std::string identity;
    std::string private_ip;
    std::vector<std::string> ciders;  // advertised ("virtual") CIDRs, spelled "ciders" on the wire
    std::string ipv6;                 // "" when offline / unknown
    uint16_t port = 0;                // 0 when offline / unknown
    std::string stun_ip;              // "" when unknown
    uint16_t stun_port = 0;           // 0 when unknown
    uint64_t last_active = 0;         // Unix time in seconds; 0 = not connected

    bool operator==(const PeerDetail&) const = default;
};

// Key = advertised ("virtual") CIDR, value = real LAN CIDR. Encoded in vector order; decoded in
// document order (the reference's HashMap order is unspecified, so no order is assumed).
using CiderMapping = std::vector<std::pair<std::string, std::string>>;

// ---- Type 1 ---------------------------------------------------------------------------------

// Old: {identity, ipv6, port}; New: {identity}.
struct Handshake {
    std::string identity;
    std::string ipv6;   // Old shape only
    uint16_t port = 0;  // Old shape only
    // Set by the decoder: whether the member was present (docs/protocol.md, "Dialect detection").
    // Ignored by the encoder.
    bool has_ipv6 = false;
    bool has_port = false;

    bool operator==(const Handshake&) const = default;
};

void encode_handshake(const Handshake& msg, Shape shape, std::string& out);
// Lenient: only `identity` required. StrictOld: identity, ipv6, port. StrictNew: identity (the
// other members are then not read and has_* stay false).
Result<Handshake> decode_handshake(std::string_view json, DecodeMode mode = DecodeMode::Lenient);

// ---- Type 4 ---------------------------------------------------------------------------------

struct HandshakeReply {
    std::string name;                 // New, Superset
    std::string private_ip;           // all shapes (dotted quad)
    std::string mask;                 // all shapes
    std::string gateway;              // all shapes
    std::vector<std::string> ciders;  // New, Superset: the recipient's own CIDRs
    CiderMapping cider_mapping;       // New, Superset
    // Old: written as `others` (RouteItem projection); New: `peer_details`; Superset: both,
    // as PeerDetail objects.
    std::vector<PeerDetail> peers;
    std::string ipv6;                 // Old, Superset: echo of the recipient's handshake ipv6

    bool operator==(const HandshakeReply&) const = default;
};

void encode_handshake_reply(const HandshakeReply& msg, ReplyShape shape, std::string& out);
// Strict for the given shape: Old requires private_ip, mask, gateway, others (RouteItem), ipv6;
// New requires name, private_ip, mask, gateway, ciders, cider_mapping, peer_details
// (PeerDetail); Superset requires both sets (peers are taken from peer_details, `others` is
// validated as RouteItem list). Members outside the shape are not read.
Result<HandshakeReply> decode_handshake_reply(std::string_view json, ReplyShape shape);

// ---- Type 2 ---------------------------------------------------------------------------------

// Old: {identity, ipv6, port}; New: {name, identity, ipv6, port, stun_ip, stun_port,
// peer_details}. A New body also satisfies the Old decoder (docs/protocol.md, "Compatibility table", row 8).
struct KeepAlive {
    std::string name;                      // New
    std::string identity;
    std::string ipv6;
    uint16_t port = 0;
    std::string stun_ip;                   // New
    uint16_t stun_port = 0;                // New
    std::vector<PeerDetail> peer_details;  // New
    // Our extension: UDP-binding replay counter. When set, encoded as the last member "seq"
    // (u64) after the reference members of either shape; references ignore unknown members.
    // When unset the output is byte-identical to the reference.
    std::optional<uint64_t> seq;
    // UDP relay extensions (docs/protocol-extensions.md), encoded after "seq" when set:
    // "cookie": the gateway's return-routability cookie (in its challenge reply; echoed by the
    // client from the endpoint it was sent to); "replay": the client opts into Data replay
    // protection, value = its current Data counter (the floor of what it sends from now on).
    std::optional<std::string> cookie;
    std::optional<uint64_t> replay;

    // Set by the decoder, ignored by the encoder. shape = New when every HEAD member is present.
    // The has_* flags record HEAD-era members individually (docs/protocol.md, "Intermediate clients":
    // send some but not all of them).
    Shape shape = Shape::Old;
    bool has_name = false;
    bool has_stun_ip = false;
    bool has_stun_port = false;
    bool has_peer_details = false;

    bool operator==(const KeepAlive&) const = default;
};

void encode_keepalive(const KeepAlive& msg, Shape shape, std::string& out);
// Lenient: identity, ipv6, port required; name, stun_ip, stun_port, peer_details and `seq` read
// when present. StrictOld / StrictNew: the reference's required set; nothing else is read
// (`seq` stays unset, as a reference ignores it).
Result<KeepAlive> decode_keepalive(std::string_view json, DecodeMode mode = DecodeMode::Lenient);

// ---- Type 5 (dbde974 only) ------------------------------------------------------------------

struct PeerUpdate {
    std::string identity;  // the peer whose address changed
    std::string ipv6;      // may be ""
    uint16_t port = 0;

    bool operator==(const PeerUpdate&) const = default;
};

void encode_peer_update(const PeerUpdate& msg, std::string& out);
Result<PeerUpdate> decode_peer_update(std::string_view json);

// ---- Types 6 and 7 (HEAD only): identical bodies ----------------------------------------------

struct Probe {
    std::string identity;

    bool operator==(const Probe&) const = default;
};

void encode_probe(const Probe& msg, std::string& out);
Result<Probe> decode_probe(std::string_view json);

}  // namespace rustun
