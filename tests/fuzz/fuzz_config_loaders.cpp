// libFuzzer target for the configuration loaders. The first byte chooses the loader (even: YAML
// via load_config_string and check_config_string, odd: routes.json via parse_routes_json); the rest
// is the file text.
// Whatever the input: no crash, no exception escapes, no leak. An accepted input must also
// build a route table whose lookups only ever return clients of the asked cluster.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/routes_json.hpp"
#include "config/yaml_loader.hpp"
#include "routing/route_table.hpp"
#include "routing/route_table_from_config.hpp"

namespace {

void check_table(const rustun::RouteTable& t) {
    for (rustun::ClusterId c = 0; c < t.cluster_count(); ++c) {
        for (uint32_t dst : {0u, 0x0A000102u, 0xC0A80B01u, 0xFFFFFFFFu}) {
            rustun::ClientId id = t.lookup(c, dst);
            if (id != rustun::kNoClient && t.cluster_of(id) != c) std::abort();
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    if ((data[0] & 1) == 0) {
        // A directory that does not exist: a relative clients_file cannot reach real files.
        auto cfg = rustun::load_config_string(text, "/nonexistent-rustun-fuzz/gateway.yaml");
        if (cfg.ok()) check_table(rustun::build_route_table(*cfg));
        // The checker reads on after errors; its first error is the load's.
        auto check = rustun::check_config_string(text, "/nonexistent-rustun-fuzz/gateway.yaml");
        if (cfg.ok() != check.errors.empty()) std::abort();
        if (!cfg.ok() && check.errors.front() != cfg.error()) std::abort();
    } else {
        auto entries = rustun::parse_routes_json(text, "routes.json");
        if (entries.ok()) {
            rustun::RouteTableBuilder b;
            b.add_cluster();
            for (const auto& e : *entries) b.add_client(e.client.private_ip, e.client.ciders);
            check_table(b.build());
        }
    }
    return 0;
}
