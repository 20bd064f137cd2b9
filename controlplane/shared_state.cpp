#include "shared_state.hpp"

namespace rustun::cp {

Limits limits_from_config(const ControlPlaneConfig& c) {
    Limits l;
    l.handshake_timeout = c.handshake_timeout;
    l.idle_timeout = c.idle_timeout;
    l.output_queue_bytes = c.output_queue_bytes;
    l.max_peers_per_reply = c.max_peers_per_reply;
    l.handshake_rate_per_source = c.handshake_rate_per_source;
    l.handshake_pending_max = c.handshake_pending_max;
    l.handshake_pending_per_source = c.handshake_pending_per_source;
    l.handshake_pending_per_prefix6 = c.handshake_pending_per_prefix6;
    l.first_byte_timeout = c.first_byte_timeout;
    // One keep-alive interval: a reader that is merely slow drains its queue below half the
    // bound well within that; one that stopped reading does not.
    l.slow_client_timeout = c.keepalive_interval;
    return l;
}

}  // namespace rustun::cp
