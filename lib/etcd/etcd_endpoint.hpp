// One etcd endpoint as configured ("http://127.0.0.1:2379") and as gRPC dials it. No gRPC here:
// the config loader checks fleet.etcd with the same parser.
#pragma once

#include <string>
#include <string_view>

#include "util/result.hpp"

namespace rustun::etcd {

struct Endpoint {
    std::string url;     // as configured
    std::string target;  // gRPC target "host:port" ("[::1]:2379" for IPv6)
    bool tls = false;    // https://
};

// Accepts "http://host:port", "https://host:port" and a bare "host:port" (http); host is a name,
// an IPv4 address or a bracketed IPv6 address; port 1..65535; no path. The error quotes `url`.
Result<Endpoint> parse_endpoint(std::string_view url);

}  // namespace rustun::etcd
