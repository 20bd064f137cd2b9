#include "poller.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace rustun::client {

Poller::~Poller() {
    if (ep_ >= 0) ::close(ep_);
}

Status Poller::open() {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) return make_error(std::string("epoll_create1: ") + strerror(errno));
    return {};
}

void Poller::add(int fd, Source s, uint32_t events, uint32_t index) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag(s, index);
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
}

void Poller::mod(int fd, Source s, uint32_t events, uint32_t index) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag(s, index);
    ::epoll_ctl(ep_, EPOLL_CTL_MOD, fd, &ev);
}

void Poller::del(int fd) { ::epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr); }

int Poller::wait(epoll_event* events, int max, int timeout_ms) { return ::epoll_wait(ep_, events, max, timeout_ms); }

}  // namespace rustun::client
