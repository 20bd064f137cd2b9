// rustun-client: a Linux TUN client for Rustun gateways (docs/client.md).
#include <cstdio>
#include <cstring>

#include "client.hpp"
#include "util/log.hpp"
#include "options.hpp"
#include "util/version.hpp"

int main(int argc, char** argv) {
    using namespace rustun::client;
    auto parsed = parse_options(argc, argv);
    if (!parsed) {
        fprintf(stderr, "%s\n", parsed.error().c_str());
        return 2;
    }
    if (parsed->help) {
        fputs(usage_text(), stdout);
        return 0;
    }
    if (parsed->version) {
        printf("rustun-client %s\n", rustun::kVersion);
        return 0;
    }
    rustun::set_log_level(parsed->options.log_level);
    rustun::set_log_format(parsed->options.log_format.value_or(rustun::default_log_format()));
    Client c(parsed->options);
    rustun::Status st = c.init();
    if (!st) {
        LOG_ERROR("%s", st.error().c_str());
        return 1;
    }
    return c.run();
}
