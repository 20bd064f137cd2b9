#include "vector_data.hpp"

#include <rapidjson/document.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "util/hex.hpp"

namespace rustun::test {

namespace {

[[noreturn]] void die(const std::string& msg) {
    std::fprintf(stderr, "vectors.json: %s\n", msg.c_str());
    std::abort();
}

std::string str(const rapidjson::Value& obj, const char* name) {
    auto it = obj.FindMember(name);
    if (it == obj.MemberEnd() || !it->value.IsString()) die(std::string("missing string ") + name);
    return {it->value.GetString(), it->value.GetStringLength()};
}

bool opt_hex(const rapidjson::Value& obj, const char* name, Bytes& out) {
    auto it = obj.FindMember(name);
    if (it == obj.MemberEnd() || it->value.IsNull()) return false;
    if (!it->value.IsString()) die(std::string("not a string: ") + name);
    out = hex_bytes(it->value.GetString());
    return true;
}

Bytes hex_field(const rapidjson::Value& obj, const char* name) {
    Bytes b;
    if (!opt_hex(obj, name, b)) die(std::string("missing hex ") + name);
    return b;
}

VectorFile load() {
    const char* dir = std::getenv("RUSTUN_TEST_DATA");
    if (dir == nullptr) die("RUSTUN_TEST_DATA is not set");
    const std::string path = std::string(dir) + "/vectors.json";
    std::ifstream in(path, std::ios::binary);
    if (!in) die("cannot open " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();

    rapidjson::Document doc;
    doc.Parse(text.c_str(), text.size());
    if (doc.HasParseError() || !doc.IsObject()) die("parse error in " + path);

    VectorFile f;
    for (const auto& c : doc["ciphers"].GetArray()) {
        CipherEntry e;
        e.cipher = str(c, "cipher");
        e.key_string = str(c, "key_string");
        e.client_cli = str(c, "client_cli");
        e.has_derived_key = opt_hex(c, "derived_key_hex", e.derived_key);
        f.ciphers.push_back(std::move(e));
    }
    for (const auto& k : doc["key_derivation"].GetArray()) {
        KeyDerivationEntry e;
        e.config_string = str(k, "config_string");
        e.key_string = str(k, "key_string");
        e.key_utf8 = hex_field(k, "key_string_utf8_hex");
        e.aead_key = hex_field(k, "aead_key_hex");
        f.key_derivation.push_back(std::move(e));
    }
    for (const auto& v : doc["vectors"].GetArray()) {
        FrameVector e;
        e.id = str(v, "id");
        e.cipher = str(v, "cipher");
        e.key_string = str(v, "key_string");
        e.frame_type = v["frame_type"].GetInt();
        e.has_nonce = opt_hex(v, "nonce_hex", e.nonce);
        e.plaintext = hex_field(v, "plaintext_hex");
        e.payload = hex_field(v, "payload_hex");
        e.header = hex_field(v, "header_hex");
        e.frame = hex_field(v, "frame_hex");
        f.vectors.push_back(std::move(e));
    }
    for (const auto& n : doc["negative"].GetArray()) {
        NegativeVector e;
        e.id = str(n, "id");
        e.cipher = str(n, "cipher");
        e.key_string = str(n, "key_string");
        e.expected = str(n, "expected");
        e.frame = hex_field(n, "frame_hex");
        f.negative.push_back(std::move(e));
    }
    return f;
}

}  // namespace

std::string VectorFile::config_for(const std::string& cipher) const {
    for (const CipherEntry& c : ciphers) {
        if (c.cipher == cipher) return c.client_cli;
    }
    die("no cipher entry " + cipher);
}

const NegativeVector& VectorFile::negative_by_id(const std::string& id) const {
    for (const NegativeVector& n : negative) {
        if (n.id == id) return n;
    }
    die("no negative vector " + id);
}

const VectorFile& vector_file() {
    static const VectorFile f = load();
    return f;
}

Bytes hex_bytes(const std::string& hex) {
    Bytes out;
    if (!from_hex(hex, out)) die("bad hex: " + hex.substr(0, 40));
    return out;
}

std::string hex_string(const Bytes& b) { return to_hex(b); }

}  // namespace rustun::test
