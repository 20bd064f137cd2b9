// rustun-client: a Linux TUN client for Rustun gateways (docs/client.md).
#include <cstdio>
#include <cstring>

#include "client.hpp"
#include "util/log.hpp"
#include "options.hpp"

int main(int argc, char** argv) {
    using namespace rustun::client;
    Options options;
    if (auto code = parse_options(argc, argv, options)) return *code;
    rustun::set_log_level(options.log_level);
    rustun::set_log_format(options.log_format.value_or(rustun::default_log_format()));
    Client c(options);
    rustun::Status st = c.init();
    if (!st) {
        LOG_ERROR("%s", st.error().c_str());
        return 1;
    }
    return c.run();
}
