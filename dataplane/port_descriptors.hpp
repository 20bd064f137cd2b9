// The descriptor count of one direction of a port queue (dataplane.rx_descriptors /
// tx_descriptors), checked against the port's limits. Pure (no DPDK): port.cpp passes the limits
// of rte_eth_dev_info's rx_desc_lim / tx_desc_lim; the unit test passes its own.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace rustun::dp {

// A port's descriptor limits for one direction (rte_eth_desc_lim: nb_min, nb_max, nb_align).
struct DescriptorLimits {
    uint16_t min = 0;
    uint16_t max = UINT16_MAX;
    uint16_t align = 1;  // the count must be a multiple of this (0 is taken as 1)
};

// `configured` 0: `build_default` (the caller lets the PMD adjust it to the limits). Otherwise
// `configured` itself, which must lie within `lim` and be a multiple of lim.align; the error names
// `key`, the value, `port` and the limits, e.g. "dataplane.rx_descriptors: 8192 is outside the
// limits of port 0000:01:00.0: 64..4096 in multiples of 32".
inline Result<uint16_t> choose_descriptors(std::string_view key, uint32_t configured, uint16_t build_default,
                                           const DescriptorLimits& lim, std::string_view port) {
    if (configured == 0) return build_default;
    const uint32_t align = lim.align == 0 ? 1 : lim.align;
    if (configured >= lim.min && configured <= lim.max && configured % align == 0)
        return static_cast<uint16_t>(configured);
    std::string limits = std::to_string(lim.min) + ".." + std::to_string(lim.max);
    if (align > 1) limits += " in multiples of " + std::to_string(align);
    return make_error(std::string(key) + ": " + std::to_string(configured) + " is outside the limits of port " +
                      std::string(port) + ": " + limits);
}

}  // namespace rustun::dp
