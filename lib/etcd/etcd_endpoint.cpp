#include "etcd/etcd_endpoint.hpp"

#include <charconv>

namespace rustun::etcd {

Result<Endpoint> parse_endpoint(std::string_view url) {
    auto fail = [&](std::string_view why) {
        return Error{"etcd endpoint \"" + std::string(url) + "\": " + std::string(why) +
                     " (expected http://host:port or https://host:port)"};
    };
    Endpoint ep;
    ep.url = std::string(url);
    std::string_view rest = url;
    if (rest.starts_with("http://")) {
        rest.remove_prefix(7);
    } else if (rest.starts_with("https://")) {
        rest.remove_prefix(8);
        ep.tls = true;
    } else if (rest.find("://") != std::string_view::npos) {
        return fail("unsupported scheme");
    }
    if (rest.ends_with("/")) rest.remove_suffix(1);  // "http://h:2379/" is common in etcd flags
    if (rest.find('/') != std::string_view::npos) return fail("a path is not allowed");
    size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return fail("missing host or port");
    std::string_view host = rest.substr(0, colon);
    std::string_view port = rest.substr(colon + 1);
    if (host.front() == '[' ? host.back() != ']' || host.size() < 3
                            : host.find(':') != std::string_view::npos)
        return fail("an IPv6 address needs brackets: [::1]:2379");
    for (char c : host)
        if (c <= ' ' || c == '@' || c == '?' || c == '#') return fail("bad character in host");
    unsigned n = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), n);
    if (port.empty() || ec != std::errc() || end != port.data() + port.size() || n == 0 || n > 65535)
        return fail("port must be 1..65535");
    ep.target = std::string(rest);
    return ep;
}

}  // namespace rustun::etcd
