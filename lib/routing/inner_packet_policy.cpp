#include "inner_packet_policy.hpp"

namespace rustun {

const char* inner_verdict_name(InnerVerdict v) noexcept {
    switch (v) {
        case InnerVerdict::Forward: return "forward";
        case InnerVerdict::NotIpv4: return "not_ipv4";
        case InnerVerdict::SpoofedSource: return "spoofed_source";
        case InnerVerdict::NoRoute: return "no_route";
        case InnerVerdict::CrossCluster: return "cross_cluster";
    }
    return "?";
}

}  // namespace rustun
