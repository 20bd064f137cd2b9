// Two or more control planes of a test fleet in one process, linked by their fleet links on
// loopback, with a fleet view the test sets (TestDirectory): the controlplane-fleet-link test and
// rustun-fleet-link-bench.
#pragma once

#include <map>
#include <mutex>

#include "fleet_link.hpp"
#include "harness.hpp"

namespace rustun::cp::test {

constexpr const char* kFleetKey = "aes256:fleet-secret";

// The fleet view as the test sets it: identity -> home gateway, gateway -> link address.
class TestDirectory final : public FleetDirectory {
public:
    bool home_gateway(std::string_view, std::string_view identity, std::string& gw) const override {
        std::lock_guard lk(mu_);
        auto it = homes_.find(std::string(identity));
        if (it == homes_.end()) return false;
        gw = it->second;
        return true;
    }
    std::optional<std::string> link_address(std::string_view id) const override {
        std::lock_guard lk(mu_);
        auto it = links_.find(std::string(id));
        if (it == links_.end()) return std::nullopt;
        return it->second;
    }
    void home(const std::string& identity, const std::string& gw) {
        std::lock_guard lk(mu_);
        homes_[identity] = gw;
    }
    void link(const std::string& gw, const std::string& addr) {
        std::lock_guard lk(mu_);
        links_[gw] = addr;
    }
    void forget_link(const std::string& gw) {
        std::lock_guard lk(mu_);
        links_.erase(gw);
    }

private:
    mutable std::mutex mu_;
    std::map<std::string, std::string> homes_, links_;
};

// One gateway of the test fleet.
struct Member {
    std::string id, dir, config_path;
    TestDirectory directory;
    std::unique_ptr<Gateway> gw;

    void start(const std::string& gateway_id, const std::string& key = kFleetKey) {
        id = gateway_id;
        char tmpl[] = "/tmp/rustun-fleet-link-XXXXXX";
        dir = mkdtemp(tmpl);
        config_path = dir + "/gateway.yaml";
        std::ofstream(config_path) << scenario_yaml(dir + "/control.sock");
        auto cfg = load_config_file(config_path);
        ASSERT_TRUE(cfg.ok()) << cfg.error();
        gw = std::make_unique<Gateway>(std::move(cfg.value()), config_path);
        FleetLinkOptions o;
        o.gateway_id = gateway_id;
        o.listen = "127.0.0.1:0";
        o.key = key;
        o.backoff_min_ms = 20;
        o.backoff_max_ms = 200;
        ASSERT_TRUE(gw->enable_fleet_link(o, directory).ok());
        Status st = gw->start();
        ASSERT_TRUE(st.ok()) << st.error();
        ASSERT_NE(gw->fleet_link_port(), 0);
    }
    ~Member() {
        gw.reset();
        if (!dir.empty() && std::system(("rm -rf " + dir).c_str()) != 0) {
        }
    }
    std::string tcp() const { return "127.0.0.1:" + std::to_string(gw->tcp_port()); }
    std::string link() const { return "127.0.0.1:" + std::to_string(gw->fleet_link_port()); }
    uint64_t counter(Counter c) const { return gw->counter(c); }
    bool wait_counter(Counter c, uint64_t want, int ms = 3000) const {
        for (int i = 0; i < ms / 10 && counter(c) < want; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return counter(c) >= want;
    }
};

}  // namespace rustun::cp::test
