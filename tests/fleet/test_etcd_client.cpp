// The etcd v3 client (lib/etcd) against a real etcd started by tests/fleet/etcd_harness.py: no
// mocks. The harness passes RUSTUN_ETCD_ENDPOINTS and RUSTUN_ETCD_CONTROL (kill -9 / restart of a
// member, compaction); tests that need them skip without them. Registered three times in
// tests/meson.build: one member (Single*, Errors*), three members (Cluster*), TLS (Tls*).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <barrier>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "etcd/etcd_client.hpp"

namespace rustun::etcd {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> env_endpoints() {
    const char* e = getenv("RUSTUN_ETCD_ENDPOINTS");
    std::vector<std::string> out;
    if (e == nullptr) return out;
    std::string s = e;
    for (size_t pos = 0; pos <= s.size();) {
        size_t comma = s.find(',', pos);
        if (comma == std::string::npos) comma = s.size();
        if (comma > pos) out.push_back(s.substr(pos, comma - pos));
        pos = comma + 1;
    }
    return out;
}

std::string env_or_empty(const char* name) {
    const char* v = getenv(name);
    return v == nullptr ? std::string() : std::string(v);
}

Options options(std::vector<std::string> endpoints = env_endpoints()) {
    Options o;
    o.endpoints = std::move(endpoints);
    o.ca_file = env_or_empty("RUSTUN_ETCD_CA");
    o.cert_file = env_or_empty("RUSTUN_ETCD_CERT");
    o.key_file = env_or_empty("RUSTUN_ETCD_KEY");
    o.dial_timeout = 1000ms;
    o.rpc_timeout = 2000ms;
    o.watch_progress_interval = 300ms;
    return o;
}

std::unique_ptr<Client> client(Options o = options()) {
    auto c = Client::create(std::move(o));
    EXPECT_TRUE(c.ok()) << c.error();
    return c.ok() ? std::move(c).value() : nullptr;
}

// A command to the harness ("kill 0", "restart 0", "compact 12"); returns its answer.
std::string control(const std::string& command) {
    const std::string path = env_or_empty("RUSTUN_ETCD_CONTROL");
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
        if (fd >= 0) ::close(fd);
        return "error: cannot connect to " + path;
    }
    const std::string line = command + "\n";
    if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
        ::close(fd);
        return "error: write";
    }
    std::string answer;
    char c;
    while (::read(fd, &c, 1) == 1 && c != '\n') answer += c;
    ::close(fd);
    return answer;
}

// Waits up to `limit` for `pred`.
template <typename Pred>
bool eventually(std::chrono::milliseconds limit, Pred pred) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
        if (pred()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return pred();
}

// A unique key prefix per test, so that the tests of one run do not see each other's keys.
std::string test_prefix() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return std::string("/test/") + info->test_suite_name() + "." + info->name() + "/";
}

#define REQUIRE_ETCD()                                                              \
    do {                                                                            \
        if (env_endpoints().empty()) GTEST_SKIP() << "no RUSTUN_ETCD_ENDPOINTS"; \
    } while (0)

// Collects what a Watcher delivers.
struct Recorder {
    std::mutex mu;
    std::vector<WatchEvent> events;
    std::vector<RangeResult> snapshots;
    Watcher::Callbacks callbacks() {
        return Watcher::Callbacks{
            .on_snapshot = [this](const RangeResult& s) { std::lock_guard l(mu); snapshots.push_back(s); },
            .on_events = [this](const std::vector<WatchEvent>& ev) {
                std::lock_guard l(mu);
                events.insert(events.end(), ev.begin(), ev.end());
            },
            .on_connection = {}};
    }
    size_t count() { std::lock_guard l(mu); return events.size(); }
    size_t snapshot_count() { std::lock_guard l(mu); return snapshots.size(); }
};

// ---- without etcd ----------------------------------------------------------------------------

TEST(Errors, OptionsAreChecked) {
    auto none = Client::create(Options{});
    ASSERT_FALSE(none.ok());
    EXPECT_EQ(none.error(), "etcd: no endpoint given");
    Options o;
    o.endpoints = {"ftp://h:1"};
    EXPECT_NE(Client::create(o).error().find("\"ftp://h:1\": unsupported scheme"), std::string::npos);
    o.endpoints = {"http://127.0.0.1:1", "https://127.0.0.1:2"};
    EXPECT_NE(Client::create(o).error().find("mix http:// and https://"), std::string::npos);
    o.endpoints = {"http://127.0.0.1:1"};
    o.ca_file = "/nonexistent/ca.pem";
    EXPECT_NE(Client::create(o).error().find("are http://"), std::string::npos);
    o.endpoints = {"https://127.0.0.1:1"};
    EXPECT_EQ(Client::create(o).error(), "etcd TLS ca \"/nonexistent/ca.pem\": cannot be read");
    o.ca_file.clear();
    o.cert_file = "/c.pem";
    EXPECT_NE(Client::create(o).error().find("needs its key"), std::string::npos);
}

TEST(Errors, PrefixRangeEnd) {
    EXPECT_EQ(prefix_range_end("/a/"), "/a0");
    EXPECT_EQ(prefix_range_end("ab\xff"), "ac");
    EXPECT_EQ(prefix_range_end(""), std::string(1, '\0'));
    EXPECT_EQ(prefix_range_end("\xff\xff"), std::string(1, '\0'));
}

// A call to an endpoint where nothing listens fails within the dial timeout, naming it.
TEST(Errors, UnreachableEndpointIsNamed) {
    Options o;
    o.endpoints = {"http://127.0.0.1:1", "127.0.0.1:2"};
    o.dial_timeout = 300ms;
    auto c = client(o);
    ASSERT_TRUE(c);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = c->get("/k");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("no etcd endpoint reachable (127.0.0.1:1, 127.0.0.1:2)"), std::string::npos)
        << r.error();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
    EXPECT_GE(c->counters().rpc_errors, 1u);
}

// A keeper and a watcher whose etcd is unreachable stop promptly (a gateway shutting down while
// etcd is away is not held up by connection attempts).
TEST(Errors, StopWhileUnreachableIsPrompt) {
    Options o;
    o.endpoints = {"http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"};
    o.dial_timeout = 2000ms;
    auto c = client(o);
    ASSERT_TRUE(c);
    Recorder rec;
    auto w = std::make_unique<Watcher>(*c, "/p/", 0, rec.callbacks());
    auto k = std::make_unique<LeaseKeeper>(*c, Lease{.id = 1, .ttl = 30s}, [](const std::string&) {});
    std::this_thread::sleep_for(700ms);
    const auto t0 = std::chrono::steady_clock::now();
    w.reset();
    k.reset();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1000ms);
    EXPECT_EQ(rec.snapshot_count(), 0u);
}

// ---- one member --------------------------------------------------------------------------------

TEST(Single, PutGetPrefixDelete) {
    REQUIRE_ETCD();
    auto c = client();
    const std::string p = test_prefix();
    auto r1 = c->put(p + "a", "1");
    ASSERT_TRUE(r1.ok()) << r1.error();
    auto r2 = c->put(p + "b", "2");
    ASSERT_TRUE(r2.ok()) << r2.error();
    EXPECT_GT(*r2, *r1);
    ASSERT_TRUE(c->put(p + "b/c", "3").ok());
    ASSERT_TRUE(c->put(p.substr(0, p.size() - 1) + "x", "outside").ok());  // shares all but the '/'

    auto a = c->get(p + "a");
    ASSERT_TRUE(a.ok()) << a.error();
    ASSERT_EQ(a->kvs.size(), 1u);
    EXPECT_EQ(a->kvs[0].value, "1");
    EXPECT_EQ(a->kvs[0].mod_revision, *r1);
    EXPECT_EQ(a->kvs[0].version, 1);
    EXPECT_GE(a->revision, *r2);
    EXPECT_TRUE(c->get(p + "missing")->kvs.empty());

    auto all = c->get_prefix(p);
    ASSERT_TRUE(all.ok()) << all.error();
    ASSERT_EQ(all->kvs.size(), 3u);
    EXPECT_EQ(all->kvs[0].key, p + "a");
    EXPECT_EQ(all->kvs[1].key, p + "b");
    EXPECT_EQ(all->kvs[2].key, p + "b/c");

    EXPECT_EQ(*c->delete_key(p + "a"), 1);
    EXPECT_EQ(*c->delete_key(p + "a"), 0);
    EXPECT_EQ(*c->delete_prefix(p), 2);
    EXPECT_TRUE(c->get_prefix(p)->kvs.empty());
    EXPECT_EQ(c->get(p.substr(0, p.size() - 1) + "x")->kvs.size(), 1u);
    EXPECT_EQ(c->counters().rpc_errors, 0u);
}

// Two clients race put_if(expected 0) for the same keys: exactly one owner each time; the loser
// sees the winner's entry, takes it over by its revision, and a stale release fails.
TEST(Single, TransactionRaceHasExactlyOneOwner) {
    REQUIRE_ETCD();
    auto c1 = client();
    auto c2 = client();
    const std::string p = test_prefix();
    constexpr int kRounds = 50;
    std::barrier sync(2);
    std::vector<int> wins(kRounds, 0);
    std::vector<std::string> loser_saw(kRounds);
    std::mutex mu;
    auto race = [&](Client& c, const std::string& me) {
        for (int i = 0; i < kRounds; ++i) {
            sync.arrive_and_wait();
            auto t = c.put_if(p + std::to_string(i), me, 0, 0);
            ASSERT_TRUE(t.ok()) << t.error();
            std::lock_guard l(mu);
            if (t->succeeded) {
                ++wins[i];
            } else {
                ASSERT_TRUE(t->current.has_value());
                loser_saw[i] = t->current->value;
            }
        }
    };
    std::thread t1([&] { race(*c1, "gw-1"); });
    std::thread t2([&] { race(*c2, "gw-2"); });
    t1.join();
    t2.join();
    for (int i = 0; i < kRounds; ++i) {
        EXPECT_EQ(wins[i], 1) << "round " << i;
        auto kv = c1->get(p + std::to_string(i));
        ASSERT_EQ(kv->kvs.size(), 1u);
        EXPECT_EQ(loser_saw[i], kv->kvs[0].value) << "the loser saw the winner's entry";
    }

    // Ownership transfer: the newcomer compares the owner's revision.
    auto owner = c1->get(p + "0")->kvs.at(0);
    auto take = c2->put_if(p + "0", "gw-3", 0, owner.mod_revision);
    ASSERT_TRUE(take.ok() && take->succeeded);
    auto stale = c1->put_if(p + "0", "gw-1-again", 0, owner.mod_revision);
    ASSERT_TRUE(stale.ok());
    EXPECT_FALSE(stale->succeeded);
    EXPECT_EQ(stale->current->value, "gw-3");
    // A release by the old owner cannot remove the new owner's entry.
    auto release = c1->delete_if(p + "0", owner.mod_revision);
    ASSERT_TRUE(release.ok());
    EXPECT_FALSE(release->succeeded);
    EXPECT_EQ(c1->get(p + "0")->kvs.at(0).value, "gw-3");
    auto mine = c2->delete_if(p + "0", take->revision);
    ASSERT_TRUE(mine.ok());
    EXPECT_TRUE(mine->succeeded);
    EXPECT_TRUE(c1->get(p + "0")->kvs.empty());
    auto absent = c1->delete_if(p + "0", 0);
    ASSERT_TRUE(absent.ok());
    EXPECT_TRUE(absent->succeeded) << "0 = absent holds for a missing key";
    c1->delete_prefix(p).value();
}

// A batch of ownership transactions (write_if_batch): when every compare holds, one Txn writes
// all at one revision; when another writer changed one key, the batch reports that key as
// put_if would (its current value) and writes the rest in a second Txn. Deletes and creates
// (expected 0) mix with puts; the limits are checked before anything is sent.
TEST(Single, BatchReportsChangedKeysAndWritesTheRest) {
    REQUIRE_ETCD();
    auto c1 = client();
    auto c2 = client();
    const std::string p = test_prefix();
    constexpr int kKeys = 10;
    std::vector<int64_t> rev(kKeys);
    for (int i = 0; i < kKeys; ++i) rev[i] = c1->put(p + std::to_string(i), "old").value();

    // Every compare holds: one Txn.
    std::vector<CondWrite> all;
    for (int i = 0; i < kKeys; ++i)
        all.push_back(CondWrite{.key = p + std::to_string(i), .value = "v1", .expected_mod_revision = rev[i]});
    auto r1 = c1->write_if_batch(all);
    ASSERT_TRUE(r1.ok()) << r1.error();
    EXPECT_EQ(r1->txns, 1u);
    ASSERT_EQ(r1->items.size(), static_cast<size_t>(kKeys));
    for (int i = 0; i < kKeys; ++i) {
        EXPECT_TRUE(r1->items[i].succeeded) << i;
        EXPECT_EQ(r1->items[i].revision, r1->items[0].revision) << "one Txn, one revision";
        auto kv = c1->get(p + std::to_string(i))->kvs.at(0);
        EXPECT_EQ(kv.value, "v1");
        EXPECT_EQ(kv.mod_revision, r1->items[i].revision) << "the result's revision is the key's mod_revision";
        rev[i] = kv.mod_revision;
    }

    // Another writer changes key 3 between our read and our write.
    const int64_t other = c2->put(p + "3", "other-writer").value();
    std::vector<CondWrite> mixed;
    for (int i = 0; i < kKeys - 1; ++i)
        mixed.push_back(CondWrite{.key = p + std::to_string(i), .value = "v2", .expected_mod_revision = rev[i]});
    mixed.push_back(CondWrite{.key = p + std::to_string(kKeys - 1), .expected_mod_revision = rev[kKeys - 1],
                              .remove = true});
    mixed.push_back(CondWrite{.key = p + "new", .value = "created", .expected_mod_revision = 0});
    auto r2 = c1->write_if_batch(mixed);
    ASSERT_TRUE(r2.ok()) << r2.error();
    EXPECT_EQ(r2->txns, 2u) << "one Txn lost its compare on key 3, the next wrote the rest";
    ASSERT_EQ(r2->items.size(), mixed.size());
    EXPECT_FALSE(r2->items[3].succeeded);
    ASSERT_TRUE(r2->items[3].current.has_value());
    EXPECT_EQ(r2->items[3].current->value, "other-writer");
    EXPECT_EQ(r2->items[3].current->mod_revision, other);
    EXPECT_EQ(c1->get(p + "3")->kvs.at(0).value, "other-writer") << "the changed key is not overwritten";
    for (size_t i = 0; i < mixed.size(); ++i) {
        if (i == 3) continue;
        EXPECT_TRUE(r2->items[i].succeeded) << i;
        EXPECT_GT(r2->items[i].revision, other) << i;
    }
    for (int i = 0; i < kKeys - 1; ++i)
        if (i != 3) {
            EXPECT_EQ(c1->get(p + std::to_string(i))->kvs.at(0).value, "v2") << i;
        }
    EXPECT_TRUE(c1->get(p + std::to_string(kKeys - 1))->kvs.empty()) << "the delete item";
    EXPECT_EQ(c1->get(p + "new")->kvs.at(0).value, "created") << "the create item";

    // Key 3 alone, by the existing single path, with the revision the batch reported.
    auto single = c1->put_if(p + "3", "v2", 0, r2->items[3].current->mod_revision);
    ASSERT_TRUE(single.ok() && single->succeeded);

    // Every compare lost: one Txn, nothing written.
    std::vector<CondWrite> stale(mixed.begin(), mixed.begin() + 3);
    auto r3 = c1->write_if_batch(stale);
    ASSERT_TRUE(r3.ok()) << r3.error();
    EXPECT_EQ(r3->txns, 1u);
    for (const auto& it : r3->items) EXPECT_FALSE(it.succeeded);

    // Limits, checked before anything is sent; an empty batch sends nothing.
    EXPECT_EQ(c1->write_if_batch({}).value().txns, 0u);
    std::vector<CondWrite> twice{CondWrite{.key = p + "x"}, CondWrite{.key = p + "x"}};
    EXPECT_NE(c1->write_if_batch(twice).error().find("given twice"), std::string::npos);
    std::vector<CondWrite> many(kMaxBatchItems + 1);
    for (size_t i = 0; i < many.size(); ++i) many[i].key = p + "many" + std::to_string(i);
    EXPECT_NE(c1->write_if_batch(many).error().find("at most"), std::string::npos);
    std::vector<CondWrite> big{CondWrite{.key = p + "big", .value = std::string(kMaxBatchBytes, 'x')}};
    EXPECT_NE(c1->write_if_batch(big).error().find("bytes"), std::string::npos);
    EXPECT_TRUE(c1->get(p + "x")->kvs.empty());
    EXPECT_TRUE(c1->get(p + "many0")->kvs.empty());
    // A full batch fits etcd's default --max-txn-ops (128): 64 compares, 64 puts, 64 reads.
    std::vector<CondWrite> full(kMaxBatchItems);
    for (size_t i = 0; i < full.size(); ++i) full[i] = CondWrite{.key = p + "full" + std::to_string(i), .value = "f"};
    auto r4 = c1->write_if_batch(full);
    ASSERT_TRUE(r4.ok()) << r4.error();
    EXPECT_EQ(r4->txns, 1u);
    EXPECT_EQ(c1->get_prefix(p + "full")->kvs.size(), kMaxBatchItems);
    EXPECT_EQ(c1->counters().rpc_errors, 0u);
    c1->delete_prefix(p).value();
}

// Two batches race for overlapping keys (all expected absent): each shared key has exactly one
// owner, the loser's item reports the winner's value, and the keys only one batch asks for are
// written whatever happens to the shared ones.
TEST(Single, BatchRaceHasExactlyOneOwner) {
    REQUIRE_ETCD();
    auto c1 = client();
    auto c2 = client();
    const std::string p = test_prefix();
    constexpr int kRounds = 20;
    constexpr int kKeys = 40;  // gw-1 asks for 0..39, gw-2 for 20..59: 20 shared
    std::barrier sync(2);
    std::mutex mu;
    std::vector<std::map<std::string, std::string>> wins(kRounds);       // key -> winner
    std::vector<std::map<std::string, std::string>> loser_saw(kRounds);  // key -> value seen
    auto race = [&](Client& c, const std::string& me, int from) {
        for (int round = 0; round < kRounds; ++round) {
            std::vector<CondWrite> items;
            for (int k = from; k < from + kKeys; ++k)
                items.push_back(CondWrite{.key = p + std::to_string(round) + "/" + std::to_string(k), .value = me});
            sync.arrive_and_wait();
            auto r = c.write_if_batch(items);
            ASSERT_TRUE(r.ok()) << r.error();
            std::lock_guard l(mu);
            for (size_t i = 0; i < items.size(); ++i) {
                if (r->items[i].succeeded) {
                    EXPECT_TRUE(wins[round].emplace(items[i].key, me).second) << items[i].key << " won twice";
                } else {
                    ASSERT_TRUE(r->items[i].current.has_value()) << items[i].key;
                    loser_saw[round][items[i].key] = r->items[i].current->value;
                }
            }
        }
    };
    std::thread t1([&] { race(*c1, "gw-1", 0); });
    std::thread t2([&] { race(*c2, "gw-2", kKeys / 2); });
    t1.join();
    t2.join();
    for (int round = 0; round < kRounds; ++round) {
        auto listed = c1->get_prefix(p + std::to_string(round) + "/");
        ASSERT_TRUE(listed.ok());
        EXPECT_EQ(listed->kvs.size(), static_cast<size_t>(kKeys + kKeys / 2)) << "round " << round;
        EXPECT_EQ(wins[round].size(), static_cast<size_t>(kKeys + kKeys / 2)) << "every key has one owner";
        for (const KeyValue& kv : listed->kvs) {
            EXPECT_EQ(wins[round][kv.key], kv.value) << kv.key;
            const int k = std::stoi(kv.key.substr(kv.key.rfind('/') + 1));
            if (k < kKeys / 2) {
                EXPECT_EQ(kv.value, "gw-1") << "only gw-1 asked for " << kv.key;
            }
            if (k >= kKeys) {
                EXPECT_EQ(kv.value, "gw-2") << "only gw-2 asked for " << kv.key;
            }
            auto seen = loser_saw[round].find(kv.key);
            if (seen != loser_saw[round].end()) {
                EXPECT_EQ(seen->second, kv.value) << "the loser saw the winner";
            }
        }
        EXPECT_EQ(loser_saw[round].size(), static_cast<size_t>(kKeys / 2)) << "one loser per shared key";
    }
    c1->delete_prefix(p).value();
}

// Keys put with a lease vanish when it expires unrenewed; a LeaseKeeper keeps them; revoking
// deletes them and the keeper reports the loss.
TEST(Single, LeaseExpiryKeepAliveAndRevoke) {
    REQUIRE_ETCD();
    auto c = client();
    const std::string p = test_prefix();

    auto unkept = c->lease_grant(2s);
    ASSERT_TRUE(unkept.ok()) << unkept.error();
    EXPECT_EQ(unkept->ttl, 2s);
    ASSERT_TRUE(c->put(p + "unkept", "x", unkept->id).ok());
    EXPECT_EQ(c->get(p + "unkept")->kvs.at(0).lease, unkept->id);

    auto kept = c->lease_grant(2s);
    ASSERT_TRUE(kept.ok()) << kept.error();
    ASSERT_TRUE(c->put(p + "kept", "y", kept->id).ok());
    std::atomic<int> lost{0};
    std::string lost_reason;
    std::mutex mu;
    LeaseKeeper keeper(*c, *kept, [&](const std::string& why) {
        std::lock_guard l(mu);
        lost_reason = why;
        ++lost;
    });

    EXPECT_TRUE(eventually(6s, [&] { return c->get(p + "unkept")->kvs.empty(); })) << "lease did not expire";
    std::this_thread::sleep_for(2500ms);  // more than the kept lease's ttl
    EXPECT_EQ(c->get(p + "kept")->kvs.size(), 1u) << "the keeper did not renew";
    EXPECT_TRUE(keeper.alive());
    EXPECT_GE(c->counters().lease_renewals, 4u);

    ASSERT_TRUE(c->lease_revoke(kept->id).ok());
    EXPECT_TRUE(c->get(p + "kept")->kvs.empty());
    EXPECT_TRUE(eventually(3s, [&] { return lost.load() == 1; }));
    EXPECT_FALSE(keeper.alive());
    {
        std::lock_guard l(mu);
        EXPECT_NE(lost_reason.find("expired or revoked"), std::string::npos) << lost_reason;
    }
    EXPECT_EQ(c->counters().leases_lost, 1u);
    EXPECT_TRUE(c->lease_revoke(kept->id).ok()) << "revoking an unknown lease is not an error";
}

// A watcher from revision 0 gets the listing, then every later change in revision order.
TEST(Single, WatchDeliversEventsInOrder) {
    REQUIRE_ETCD();
    auto c = client();
    const std::string p = test_prefix();
    ASSERT_TRUE(c->put(p + "before", "0").ok());
    Recorder rec;
    Watcher w(*c, p, 0, rec.callbacks());
    ASSERT_TRUE(eventually(5s, [&] { return rec.snapshot_count() == 1; }));
    {
        std::lock_guard l(rec.mu);
        ASSERT_EQ(rec.snapshots[0].kvs.size(), 1u);
        EXPECT_EQ(rec.snapshots[0].kvs[0].key, p + "before");
    }
    std::vector<int64_t> written;
    for (int i = 0; i < 100; ++i) written.push_back(*c->put(p + "k" + std::to_string(i % 10), std::to_string(i)));
    written.push_back(*c->put(p.substr(0, p.size() - 1) + "x", "outside the prefix"));
    auto del = c->delete_prefix(p);
    ASSERT_TRUE(del.ok());
    ASSERT_TRUE(eventually(5s, [&] { return rec.count() >= 111; }));
    std::lock_guard l(rec.mu);
    ASSERT_EQ(rec.events.size(), 111u);  // 100 puts, 11 deletes; not the key outside
    for (int i = 0; i < 100; ++i) {
        EXPECT_EQ(rec.events[i].type, WatchEvent::Type::Put);
        EXPECT_EQ(rec.events[i].kv.value, std::to_string(i));
        EXPECT_EQ(rec.events[i].kv.mod_revision, written[i]);
    }
    for (size_t i = 100; i < 111; ++i) EXPECT_EQ(rec.events[i].type, WatchEvent::Type::Delete);
    for (size_t i = 1; i < rec.events.size(); ++i)
        EXPECT_GE(rec.events[i].kv.mod_revision, rec.events[i - 1].kv.mod_revision);
    EXPECT_EQ(w.revision(), rec.events.back().kv.mod_revision);
    // Progress notifications keep the lag near the progress interval on a quiet stream.
    std::this_thread::sleep_for(1200ms);
    EXPECT_LT(w.lag(), 1000ms);
}

// kill -9 of etcd and a restart on the same data directory: the watcher resumes from the last
// revision it delivered (changes made while it was away included, none twice), the lease
// keeper keeps its lease, and calls work again.
TEST(Single, WatchAndLeaseSurviveKill9AndRestart) {
    REQUIRE_ETCD();
    auto c = client();
    auto writer = client();
    const std::string p = test_prefix();
    auto lease = c->lease_grant(10s);
    ASSERT_TRUE(lease.ok()) << lease.error();
    ASSERT_TRUE(c->put(p + "leased", "v", lease->id).ok());
    std::atomic<int> lost{0};
    LeaseKeeper keeper(*c, *lease, [&](const std::string&) { ++lost; });
    Recorder rec;
    std::atomic<int> downs{0}, ups{0};
    auto cb = rec.callbacks();
    cb.on_connection = [&](bool up) { ++(up ? ups : downs); };
    Watcher w(*c, p, 0, cb);
    ASSERT_TRUE(eventually(5s, [&] { return ups.load() == 1; }));

    for (int i = 0; i < 50; ++i) ASSERT_TRUE(writer->put(p + "k", std::to_string(i)).ok());
    ASSERT_TRUE(eventually(5s, [&] { return rec.count() == 50; }));

    ASSERT_EQ(control("kill 0"), "ok");
    EXPECT_FALSE(writer->put(p + "k", "while down").ok());
    ASSERT_TRUE(eventually(5s, [&] { return downs.load() >= 1; }));
    std::this_thread::sleep_for(1500ms);
    EXPECT_GT(w.lag(), 1000ms) << "the lag grows while etcd is away";
    ASSERT_EQ(control("restart 0"), "ok");
    // Written at once, most likely before the watcher's stream is back.
    for (int i = 50; i < 100; ++i) {
        auto r = writer->put(p + "k", std::to_string(i));
        ASSERT_TRUE(r.ok()) << r.error();
    }
    ASSERT_TRUE(eventually(10s, [&] { return rec.count() >= 100; }));
    std::this_thread::sleep_for(300ms);
    {
        std::lock_guard l(rec.mu);
        ASSERT_EQ(rec.events.size(), 100u);
        for (int i = 0; i < 100; ++i) EXPECT_EQ(rec.events[i].kv.value, std::to_string(i)) << i;
        EXPECT_EQ(rec.snapshots.size(), 1u) << "resumed by revision, no re-listing";
    }
    EXPECT_GE(ups.load(), 2);
    EXPECT_GE(c->counters().watch_restarts, 1u);
    EXPECT_EQ(lost.load(), 0);
    EXPECT_TRUE(keeper.alive());
    EXPECT_EQ(c->get(p + "leased")->kvs.size(), 1u);
    EXPECT_TRUE(eventually(3s, [&] { return w.lag() < 1000ms; }));
}

// A watch from a compacted revision re-lists the prefix (a resync) and goes on from there.
TEST(Single, CompactedRevisionTriggersResync) {
    REQUIRE_ETCD();
    auto c = client();
    const std::string p = test_prefix();
    const int64_t first = *c->put(p + "a", "1");
    ASSERT_TRUE(c->put(p + "b", "2").ok());
    const int64_t last = *c->put(p + "a", "3");
    ASSERT_EQ(control("compact " + std::to_string(last)), "ok");
    Recorder rec;
    Watcher w(*c, p, first, rec.callbacks());
    ASSERT_TRUE(eventually(5s, [&] { return rec.snapshot_count() == 1; })) << "no resync";
    {
        std::lock_guard l(rec.mu);
        const RangeResult& s = rec.snapshots[0];
        ASSERT_EQ(s.kvs.size(), 2u);
        EXPECT_EQ(s.kvs[0].value, "3");
        EXPECT_EQ(s.kvs[1].value, "2");
        EXPECT_GE(s.revision, last);
        EXPECT_TRUE(rec.events.empty());
    }
    EXPECT_EQ(c->counters().watch_resyncs, 1u);
    ASSERT_TRUE(c->put(p + "c", "4").ok());
    ASSERT_TRUE(eventually(5s, [&] { return rec.count() == 1; }));
}

// ---- three members ---------------------------------------------------------------------------

// The member in use is killed: calls, the lease keeper and the watcher go on through the other
// endpoints of the list.
TEST(Cluster, MemberKilledKeepsServing) {
    REQUIRE_ETCD();
    auto eps = env_endpoints();
    if (eps.size() < 3) GTEST_SKIP() << "needs three members";
    // When the killed member was the leader, a write sent to a follower during the election is
    // dropped by etcd and answered only after its own request timeout: the client's deadline
    // moves it to the next member.
    auto c = client();
    const std::string p = test_prefix();
    ASSERT_TRUE(c->put(p + "k", "0").ok());
    // The member in use (usually the first; another if etcd answered UNAVAILABLE meanwhile).
    const std::string in_use = c->current_endpoint();
    size_t victim = eps.size();
    for (size_t i = 0; i < eps.size(); ++i)
        if (eps[i].substr(eps[i].find("//") + 2) == in_use) victim = i;
    ASSERT_LT(victim, eps.size()) << in_use;
    auto lease = c->lease_grant(3s);
    ASSERT_TRUE(lease.ok());
    ASSERT_TRUE(c->put(p + "leased", "v", lease->id).ok());
    std::atomic<int> lost{0};
    LeaseKeeper keeper(*c, *lease, [&](const std::string&) { ++lost; });
    Recorder rec;
    Watcher w(*c, p, 0, rec.callbacks());
    ASSERT_TRUE(eventually(5s, [&] { return rec.snapshot_count() == 1; }));

    ASSERT_EQ(control("kill " + std::to_string(victim)), "ok");
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 1; i <= 20; ++i) {
        auto r = c->put(p + "k", std::to_string(i));
        ASSERT_TRUE(r.ok()) << "put " << i << ": " << r.error();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
    EXPECT_NE(c->current_endpoint(), in_use);
    ASSERT_TRUE(eventually(10s, [&] { return rec.count() >= 20; }));
    {
        std::lock_guard l(rec.mu);
        ASSERT_EQ(rec.events.size(), 20u);
        for (int i = 0; i < 20; ++i) EXPECT_EQ(rec.events[i].kv.value, std::to_string(i + 1));
    }
    std::this_thread::sleep_for(4s);  // more than the lease's ttl
    EXPECT_EQ(lost.load(), 0);
    EXPECT_EQ(c->get(p + "leased")->kvs.size(), 1u);
    EXPECT_GE(c->counters().reconnects, 1u);
    ASSERT_EQ(control("restart " + std::to_string(victim)), "ok");
    EXPECT_TRUE(c->put(p + "k", "after").ok());
}

// ---- TLS -------------------------------------------------------------------------------------

TEST(Tls, ClientCertificateAndCa) {
    REQUIRE_ETCD();
    if (env_or_empty("RUSTUN_ETCD_CA").empty()) GTEST_SKIP() << "not a TLS run";
    auto c = client();
    const std::string p = test_prefix();
    auto r = c->put(p + "k", "over tls");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(c->get(p + "k")->kvs.at(0).value, "over tls");
    Recorder rec;
    Watcher w(*c, p, 0, rec.callbacks());
    ASSERT_TRUE(eventually(5s, [&] { return rec.snapshot_count() == 1; }));
    ASSERT_TRUE(c->put(p + "k", "2").ok());
    ASSERT_TRUE(eventually(5s, [&] { return rec.count() == 1; }));

    // Without the client certificate etcd (--client-cert-auth) refuses the connection.
    Options anon = options();
    anon.cert_file.clear();
    anon.key_file.clear();
    auto a = client(anon);
    auto refused = a->get(p + "k");
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().find(env_endpoints()[0].substr(8)), std::string::npos) << refused.error();
    // Plain http to a TLS endpoint fails too.
    Options plain;
    plain.endpoints = {"http://" + env_endpoints()[0].substr(8)};
    plain.dial_timeout = 500ms;
    EXPECT_FALSE(client(plain)->get(p + "k").ok());
}

}  // namespace
}  // namespace rustun::etcd
