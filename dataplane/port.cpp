// Uplink and exception (tap) port set-up, and datagrams built by the main lcore.
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <arpa/inet.h>
#include <cerrno>
#include <dirent.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <linux/ipv6.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "dataplane.hpp"
#include "port_descriptors.hpp"
#include "util/log.hpp"

namespace rustun::dp {

namespace {

std::string available_ports() {
    std::string s;
    uint16_t p;
    RTE_ETH_FOREACH_DEV(p) {
        char name[RTE_ETH_NAME_MAX_LEN];
        if (rte_eth_dev_get_name_by_port(p, name) == 0) s += (s.empty() ? "" : ", ") + std::string(name);
    }
    return s.empty() ? "none (add a --vdev to dataplane.eal_args)" : s;
}

// The NUMA socket whose memory serves `port`: its own, or, for a port that does not know it
// (SOCKET_ID_ANY: virtual devices, single-socket machines), the main lcore's.
int port_socket(uint16_t port) {
    const int s = rte_eth_dev_socket_id(port);
    return s < 0 ? static_cast<int>(rte_socket_id()) : s;
}

// The mbuf pool on `socket`, created on first use (one pool of dataplane.mbufs per socket in use).
Result<rte_mempool*> pool_on_socket(Runtime& rt, int socket) {
    for (const auto& [s, pool] : rt.pools)
        if (s == socket) return pool;
    const std::string name = "rustun_mbufs_s" + std::to_string(socket);
    rte_mempool* pool = rte_pktmbuf_pool_create(name.c_str(), rt.cfg.mbufs, cap::kMbufCache, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
    if (pool == nullptr)
        return make_error("dataplane.mbufs: cannot create a pool of " + std::to_string(rt.cfg.mbufs) +
                          " mbufs on NUMA socket " + std::to_string(socket) + ": " + rte_strerror(rte_errno) +
                          " (reserve hugepages on that socket: the Hugepages section of docs/operations.md)");
    rt.pools.emplace_back(socket, pool);
    return pool;
}

// Warns for each worker lcore on another socket than the uplink's (every packet it handles then
// crosses the socket interconnect twice). Workers take the lcores after the main one, in order.
void warn_worker_sockets(const Runtime& rt, int socket) {
    unsigned lcore = rte_get_next_lcore(-1, 1, 0);
    for (uint32_t w = 0; w < rt.cfg.workers && lcore < RTE_MAX_LCORE; ++w, lcore = rte_get_next_lcore(lcore, 1, 0)) {
        const unsigned ls = rte_lcore_to_socket_id(lcore);
        if (static_cast<int>(ls) != socket)
            LOG_WARN("worker %u runs on lcore %u of NUMA socket %u, but port %s is on socket %d: its packets cross "
                     "the sockets; give the workers lcores of socket %d (-l in dataplane.eal_args)",
                     w, lcore, ls, rt.cfg.port.c_str(), socket, socket);
    }
}

// RX/TX descriptors per queue: dataplane.rx_descriptors / tx_descriptors checked against the
// port's limits, or the build's defaults adjusted to them (0).
Status choose_port_descriptors(uint16_t port, uint32_t rx, uint32_t tx, const char* what, uint16_t& nrx,
                               uint16_t& ntx) {
    rte_eth_dev_info info;
    if (int rc = rte_eth_dev_info_get(port, &info); rc != 0) return make_error(std::string(what) + ": " + rte_strerror(-rc));
    auto r = choose_descriptors("dataplane.rx_descriptors", rx, cap::kPortRxDescriptors,
                                {info.rx_desc_lim.nb_min, info.rx_desc_lim.nb_max, info.rx_desc_lim.nb_align}, what);
    if (!r) return make_error(r.error());
    auto t = choose_descriptors("dataplane.tx_descriptors", tx, cap::kPortTxDescriptors,
                                {info.tx_desc_lim.nb_min, info.tx_desc_lim.nb_max, info.tx_desc_lim.nb_align}, what);
    if (!t) return make_error(t.error());
    nrx = *r;
    ntx = *t;
    // Only the defaults move: a configured count was checked to lie within the limits.
    if (int rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx); rc != 0)
        return make_error(std::string(what) + ": rte_eth_dev_adjust_nb_rx_tx_desc: " + rte_strerror(-rc));
    return {};
}

// Configures `queues` RX/TX queue pairs of `port` (descriptor counts as choose_port_descriptors)
// with their rings on `socket`, RX filling from `pool`, and starts the port.
Status start_port(uint16_t port, uint16_t queues, rte_mempool* pool, int socket, const rte_eth_conf& conf, uint32_t rx,
                  uint32_t tx, const char* what) {
    int rc = rte_eth_dev_configure(port, queues, queues, &conf);
    if (rc < 0) return make_error(std::string(what) + ": rte_eth_dev_configure: " + rte_strerror(-rc));
    uint16_t nrx = 0, ntx = 0;
    if (Status s = choose_port_descriptors(port, rx, tx, what, nrx, ntx); !s) return s;
    for (uint16_t q = 0; q < queues; ++q) {
        rc = rte_eth_rx_queue_setup(port, q, nrx, static_cast<unsigned>(socket), nullptr, pool);
        if (rc < 0) return make_error(std::string(what) + ": RX queue " + std::to_string(q) + ": " + rte_strerror(-rc));
        rte_eth_dev_info info;
        rte_eth_dev_info_get(port, &info);
        rte_eth_txconf txc = info.default_txconf;
        txc.offloads = conf.txmode.offloads;
        rc = rte_eth_tx_queue_setup(port, q, ntx, static_cast<unsigned>(socket), &txc);
        if (rc < 0) return make_error(std::string(what) + ": TX queue " + std::to_string(q) + ": " + rte_strerror(-rc));
    }
    rc = rte_eth_dev_start(port);
    if (rc < 0) return make_error(std::string(what) + ": start: " + rte_strerror(-rc));
    LOG_INFO("%s: %u queue(s) of %u RX / %u TX descriptors on NUMA socket %d", what, queues, nrx, ntx, socket);
    return {};
}

// net_af_packet (DPDK 22.11) reads its socket's ring but never its PACKET_STATISTICS: what the
// kernel dropped because the ring was full (the dataplane stalled or too slow) shows in no ethdev
// counter. The PMD's sockets are ours (same process): find the AF_PACKET sockets bound to the
// port's interface in our fd table, so that the main lcore can read tp_drops from them.
std::vector<int> find_af_packet_sockets(int if_index) {
    std::vector<int> fds;
    DIR* d = ::opendir("/proc/self/fd");
    if (d == nullptr) return fds;
    while (dirent* e = ::readdir(d)) {
        char* end = nullptr;
        const long fd = std::strtol(e->d_name, &end, 10);
        if (end == e->d_name || *end != '\0' || fd == ::dirfd(d)) continue;
        int domain = 0;
        socklen_t len = sizeof domain;
        if (::getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 || domain != AF_PACKET) continue;
        sockaddr_ll sll{};
        len = sizeof sll;
        if (::getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&sll), &len) != 0) continue;
        if (sll.sll_ifindex == if_index) fds.push_back(static_cast<int>(fd));
    }
    ::closedir(d);
    return fds;
}

void watch_tap_drops(Runtime& rt, const std::string& iface) {
    uint64_t seen = 0;
    if (kernel_tx_dropped(iface, seen)) rt.kernel_tap_ifaces.emplace_back(iface, seen);
}

}  // namespace

bool kernel_tx_dropped(const std::string& iface, uint64_t& out) {
    FILE* f = std::fopen("/proc/self/net/dev", "re");
    if (f == nullptr) return false;
    char line[512];
    bool found = false;
    while (!found && std::fgets(line, sizeof line, f) != nullptr) {
        char* colon = std::strchr(line, ':');
        if (colon == nullptr) continue;
        char* name = line;
        while (*name == ' ') ++name;
        if (std::string(name, static_cast<size_t>(colon - name)) != iface) continue;
        // receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes packets errs drop
        unsigned long long v[12];
        found = std::sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                            &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11]) == 12;
        if (found) out = v[11];
    }
    std::fclose(f);
    return found;
}

Status setup_uplink(Runtime& rt) {
    const DataplaneConfig& c = rt.cfg;
    if (rte_eth_dev_get_port_by_name(c.port.c_str(), &rt.port_id) != 0)
        return make_error("dataplane.port: no DPDK port named \"" + c.port + "\" (ports: " + available_ports() + ")");
    rte_eth_dev_info info;
    if (int rc = rte_eth_dev_info_get(rt.port_id, &info); rc != 0)
        return make_error("dataplane.port: " + c.port + ": " + rte_strerror(-rc));
    if (c.workers > info.max_rx_queues || c.workers > info.max_tx_queues)
        return make_error("dataplane.workers: " + std::to_string(c.workers) + " workers need as many RX/TX queues, port " +
                          c.port + " has " + std::to_string(info.max_rx_queues) + " RX / " +
                          std::to_string(info.max_tx_queues) + " TX");
    rte_eth_conf conf{};
    if (c.workers > 1) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
        if (conf.rx_adv_conf.rss_conf.rss_hf == 0 && info.driver_name != nullptr && std::strcmp(info.driver_name, "net_memif") == 0)
            LOG_INFO("port %s (memif) has no RSS: the peer chooses the queue of each packet, worker w reads queue w",
                     c.port.c_str());
        else if (conf.rx_adv_conf.rss_conf.rss_hf == 0)
            LOG_WARN("port %s has no IP/UDP RSS; queues beyond 0 may stay idle",
                     c.port.c_str());
    }
    if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) {
        conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
        rt.ipv4_cksum_offload = true;
    }
    if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE) conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MBUF_FAST_FREE;
    // Rings and mbufs on the port's socket; rt.pool is the uplink's (workers and the main lcore
    // allocate from it).
    const int socket = port_socket(rt.port_id);
    auto pool = pool_on_socket(rt, socket);
    if (!pool) return make_error(pool.error());
    rt.pool = *pool;
    warn_worker_sockets(rt, socket);
    bool mtu_is_ours = false;  // the PMD has no MTU of its own (memif): dataplane.mtu is the limit
    if (c.mtu != 0) {
        // Before the queues: a PMD sizes its receive buffers by it (one mbuf per packet: at most 2000).
        const int rc = rte_eth_dev_set_mtu(rt.port_id, static_cast<uint16_t>(c.mtu));
        if (rc == -ENOTSUP) {
            mtu_is_ours = true;
            LOG_WARN("dataplane.mtu: %s sets no MTU (its packets are bounded by its buffers): %u bytes applies to what "
                     "the dataplane sends",
                     c.port.c_str(), c.mtu);
        } else if (rc < 0) {
            return make_error("dataplane.mtu: " + std::to_string(c.mtu) + " refused by " + c.port + ": " + rte_strerror(-rc));
        }
    }
    Status s = start_port(rt.port_id, static_cast<uint16_t>(c.workers), rt.pool, socket, conf, c.rx_descriptors,
                          c.tx_descriptors, ("dataplane.port: " + c.port).c_str());
    if (!s) return s;
    rte_ether_addr mac;
    rte_eth_macaddr_get(rt.port_id, &mac);
    std::memcpy(rt.src.mac, mac.addr_bytes, 6);
    uint16_t mtu = 0;
    if (rte_eth_dev_get_mtu(rt.port_id, &mtu) == 0 && mtu >= 1280) rt.mtu = mtu;
    if (mtu_is_ours) rt.mtu = static_cast<uint16_t>(c.mtu);
    if (info.driver_name != nullptr && std::strcmp(info.driver_name, "net_af_packet") == 0 && info.if_index != 0) {
        rt.kernel_ring_fds = find_af_packet_sockets(static_cast<int>(info.if_index));
        if (rt.kernel_ring_fds.empty())
            LOG_WARN("%s: no AF_PACKET socket found on ifindex %u; "
                     "kernel ring drops are not counted", c.port.c_str(), info.if_index);
    }
    char ifname[IF_NAMESIZE] = {};
    if (info.driver_name != nullptr && std::strcmp(info.driver_name, "net_tap") == 0 && info.if_index != 0 &&
        ::if_indextoname(info.if_index, ifname) != nullptr)
        watch_tap_drops(rt, ifname);
    return {};
}

Status setup_tap(Runtime& rt) {
    const DataplaneConfig& c = rt.cfg;
    if (c.exception != DataplaneConfig::Exception::Tap) return {};
    char mac[32];
    std::snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", rt.src.mac[0], rt.src.mac[1], rt.src.mac[2],
                  rt.src.mac[3], rt.src.mac[4], rt.src.mac[5]);
    const std::string name = "net_tap_rustun_exc";
    const std::string args = "iface=" + c.exception_iface + ",mac=" + mac;
    if (int rc = rte_dev_probe((name + "," + args).c_str()); rc != 0)
        return make_error("dataplane.exception_iface: cannot create tap " + c.exception_iface + ": " + rte_strerror(rc < 0 ? -rc : rc));
    if (rte_eth_dev_get_port_by_name(name.c_str(), &rt.tap_port) != 0)
        return make_error("dataplane.exception_iface: tap port missing after creation");
    rte_eth_conf conf{};
    const int socket = port_socket(rt.tap_port);  // a vdev: the main lcore's, which serves it
    auto pool = pool_on_socket(rt, socket);
    if (!pool) return make_error(pool.error());
    Status s = start_port(rt.tap_port, 1, *pool, socket, conf, 0, 0,
                          ("dataplane.exception_iface: " + c.exception_iface).c_str());
    if (!s) return s;
    watch_tap_drops(rt, c.exception_iface);
    // The kernel side carries the gateway's address (/32: routes are the operator's business).
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        ifreq ifr{};
        std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", c.exception_iface.c_str());
        auto* sin = reinterpret_cast<sockaddr_in*>(&ifr.ifr_addr);
        sin->sin_family = AF_INET;
        std::memcpy(&sin->sin_addr, rt.src.addr4, 4);
        if (::ioctl(fd, SIOCSIFADDR, &ifr) < 0)
            LOG_WARN("cannot set %s's address: %s", c.exception_iface.c_str(),
                     std::strerror(errno));
        auto* mask = reinterpret_cast<sockaddr_in*>(&ifr.ifr_netmask);
        mask->sin_family = AF_INET;
        mask->sin_addr.s_addr = 0xffffffffu;
        if (::ioctl(fd, SIOCSIFNETMASK, &ifr) < 0)
            LOG_WARN("cannot set %s's netmask: %s", c.exception_iface.c_str(),
                     std::strerror(errno));
        ifreq fl{};
        std::snprintf(fl.ifr_name, IFNAMSIZ, "%s", c.exception_iface.c_str());
        if (::ioctl(fd, SIOCGIFFLAGS, &fl) == 0) {
            fl.ifr_flags |= IFF_UP;
            ::ioctl(fd, SIOCSIFFLAGS, &fl);
        }
        ::close(fd);
    }
    if (rt.src.has_addr6) {
        int fd6 = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd6 >= 0) {
            in6_ifreq r6{};
            std::memcpy(&r6.ifr6_addr, rt.src.addr6, 16);
            r6.ifr6_prefixlen = 128;
            r6.ifr6_ifindex = static_cast<int>(if_nametoindex(c.exception_iface.c_str()));
            if (r6.ifr6_ifindex == 0 || ::ioctl(fd6, SIOCSIFADDR, &r6) < 0)
                LOG_WARN("cannot set %s's IPv6 address: %s",
                         c.exception_iface.c_str(), std::strerror(errno));
            ::close(fd6);
        }
    }
    return {};
}

rte_mbuf* build_datagram(Runtime& rt, const shm::Endpoint& to, uint64_t mac, const uint8_t* payload, uint32_t len) {
    rte_mbuf* m = rte_pktmbuf_alloc(rt.pool);
    if (m == nullptr) return nullptr;
    const uint32_t hl = outer_header_len(to.family);
    auto* h = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(hl + len)));
    if (h == nullptr) {
        rte_pktmbuf_free(m);
        return nullptr;
    }
    std::memcpy(h + hl, payload, len);
    uint8_t dmac[6];
    if (mac & kMacKnown)
        unpack_mac(mac, dmac);
    else
        std::memset(dmac, 0xff, 6);  // no packet seen from there yet: broadcast on the segment
    static uint16_t ip_id = 0;       // main lcore only
    write_outer(h, rt.src, dmac, to, static_cast<uint16_t>(len), rt.ipv4_cksum_offload, ip_id++);
    // All 64 bits at once: l2_len/l3_len are bit-fields, and two narrow read-modify-writes made
    // the second wait on the first (a store-forwarding stall per packet).
    m->tx_offload = rte_mbuf_tx_offload(kEthLen, to.family == 4 ? kIpv4Len : kIpv6Len, 0, 0, 0, 0, 0);
    m->ol_flags = to.family == 4 ? (rt.ipv4_cksum_offload ? RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM : 0)
                                 : RTE_MBUF_F_TX_IPV6;
    return m;
}

}  // namespace rustun::dp
