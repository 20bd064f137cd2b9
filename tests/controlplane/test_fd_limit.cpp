// Limits told (docs/operations.md, "A million connections"): the RLIMIT_NOFILE warning.
#include <gtest/gtest.h>

#include "fd_limit.hpp"

namespace rustun::cp::test {
namespace {

TEST(FdLimit, TooManyClientsForTheLimitAreToldWithTheNumbers) {
    FdLimit l{20000, 20000, 100, 19900};
    const std::string w = fd_limit_warning(100000, l);
    EXPECT_NE(w.find("config has 100000 clients; RLIMIT_NOFILE is 20000 (hard 20000); at most ~19900 TCP sessions"),
              std::string::npos)
        << w;
    EXPECT_EQ(fd_limit_warning(19900, l), "");
}

TEST(FdLimit, TheSoftLimitIsRaisedToTheHardOne) {
    const FdLimit l = read_fd_limit(2, true);
    EXPECT_EQ(l.soft, l.hard);
    EXPECT_EQ(l.reserved, fd_reserve(2));
    EXPECT_EQ(l.sessions, l.soft - l.reserved);
}

}  // namespace
}  // namespace rustun::cp::test
