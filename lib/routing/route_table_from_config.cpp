#include "routing/route_table_from_config.hpp"

namespace rustun {

RouteTable build_route_table(const GatewayConfig& cfg, std::vector<RouteConflict>* conflicts) {
    RouteTableBuilder b;
    for (const ClusterConfig& cluster : cfg.clusters) {
        b.add_cluster();
        for (const ClientConfig& client : cluster.clients)
            b.add_client(client.private_ip, client.ciders);
    }
    return b.build(conflicts);
}

}  // namespace rustun
