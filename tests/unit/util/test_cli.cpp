// lib/util/cli: the one command-line convention of every binary (docs/cli.md). Pins the exit
// codes (0 after --help/--version, 2 after a usage error), that errors are ONE line naming the
// option and "try --help", help on the output stream, deprecated aliases, values, subcommands
// and the EAL arguments after "--".
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "util/cli.hpp"
#include "util/version.hpp"

namespace rustun::cli {
namespace {

Spec demo_spec() {
    Spec s;
    s.program = "demo";
    s.usage = "[options]";
    s.about = "A demonstration.";
    s.options = {
        {"config", 'c', "FILE", "configuration file"},
        {"log-level", 0, "LEVEL", "trace, debug, info\nwarn, error, off"},
        {"json", 0, nullptr, "JSON output"},
        {"crypto", 'k', "SPEC", "cipher"},
        {nullptr, 'x', nullptr, "", "crypto"},  // deprecated short spelling of --crypto
        {"old-name", 0, "N", "", "count"},
        {"count", 'n', "N", "how many"},
    };
    s.epilog = "Exit codes: 0, 1, 2.";
    return s;
}

// Runs parse() on `words` with both streams captured.
struct Run {
    std::optional<int> code;
    Parsed p;
    std::string out, err;
};

std::string slurp(FILE* f) {
    std::string s;
    std::rewind(f);
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    std::fclose(f);
    return s;
}

Run run(const Spec& spec, std::vector<std::string> words, int first = 1) {
    words.insert(words.begin(), "demo");
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    Run r;
    FILE* out = std::tmpfile();
    FILE* err = std::tmpfile();
    r.code = parse(spec, static_cast<int>(words.size()), argv.data(), r.p, first, out, err);
    r.out = slurp(out);
    r.err = slurp(err);
    return r;
}

size_t lines(const std::string& s) {
    size_t n = 0;
    for (char c : s) n += c == '\n';
    return n;
}

TEST(Cli, ShortLongAndInlineValues) {
    auto r = run(demo_spec(), {"-c", "a.yaml", "--log-level=debug", "--json", "--count", "7"});
    ASSERT_FALSE(r.code);
    EXPECT_EQ(r.p.value("config"), "a.yaml");
    EXPECT_EQ(r.p.value("log-level"), "debug");
    EXPECT_TRUE(r.p.has("json"));
    EXPECT_FALSE(r.p.has("crypto"));
    EXPECT_EQ(r.p.value("crypto", "dflt"), "dflt");
    EXPECT_EQ(*r.p.uint("count", 1, 10, 0), 7u);
    EXPECT_TRUE(r.err.empty());
    r = run(demo_spec(), {"--config", "x", "-cy"});  // the last one wins; -cVALUE works
    EXPECT_EQ(r.p.value("config"), "y");
}

TEST(Cli, HelpGoesToStdoutWithExitZero) {
    for (const char* h : {"--help", "-h"}) {
        auto r = run(demo_spec(), {"--json", h, "--bogus"});
        ASSERT_TRUE(r.code);
        EXPECT_EQ(*r.code, 0);
        EXPECT_TRUE(r.err.empty()) << r.err;
        EXPECT_EQ(r.out, help_text(demo_spec()));
        EXPECT_EQ(r.out.rfind("usage: demo [options]\n", 0), 0u) << r.out;
        EXPECT_NE(r.out.find("  -c, --config FILE"), std::string::npos) << r.out;
        EXPECT_NE(r.out.find("      --log-level LEVEL"), std::string::npos) << r.out;
        EXPECT_NE(r.out.find("  -h, --help"), std::string::npos) << r.out;
        EXPECT_NE(r.out.find("  -V, --version"), std::string::npos) << r.out;
        EXPECT_NE(r.out.find("Exit codes"), std::string::npos);
        EXPECT_EQ(r.out.find("old-name"), std::string::npos) << "aliases are not listed";
    }
    // A multi-line help text continues under its first line.
    const std::string t = help_text(demo_spec());
    const size_t a = t.find("trace, debug"), b = t.find("warn, error");
    ASSERT_NE(b, std::string::npos);
    EXPECT_EQ(b - t.rfind('\n', b) - 1, a - t.rfind('\n', a) - 1) << t;
}

TEST(Cli, VersionPrintsProgramAndGitDescription) {
    for (const char* v : {"--version", "-V"}) {
        auto r = run(demo_spec(), {v});
        ASSERT_TRUE(r.code);
        EXPECT_EQ(*r.code, 0);
        EXPECT_EQ(r.out, std::string("demo ") + kVersion + "\n");
    }
}

TEST(Cli, UsageErrorsAreOneLineNamingTheOptionExitTwo) {
    struct Case {
        std::vector<std::string> words;
        std::string needle;
    } cases[] = {
        {{"--bogus"}, "unknown option '--bogus'"},
        {{"--bogus=3"}, "unknown option '--bogus'"},
        {{"-q"}, "unknown option '-q'"},
        {{"--config"}, "option '-c/--config' needs an argument (FILE)"},
        {{"-c"}, "option '-c/--config' needs an argument (FILE)"},
        {{"--json=yes"}, "option '--json' takes no value"},
        {{"stray"}, "unexpected argument 'stray'"},
    };
    for (const auto& c : cases) {
        auto r = run(demo_spec(), c.words);
        ASSERT_TRUE(r.code) << c.words[0];
        EXPECT_EQ(*r.code, 2) << c.words[0];
        EXPECT_TRUE(r.out.empty());
        EXPECT_EQ(lines(r.err), 1u) << r.err;
        EXPECT_EQ(r.err.rfind("demo: ", 0), 0u) << r.err;
        EXPECT_NE(r.err.find(c.needle), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("try --help"), std::string::npos) << r.err;
    }
    EXPECT_EQ(usage_error(demo_spec(), "x"), 2);
}

TEST(Cli, ValuesAreCheckedWithTheOptionNamed) {
    auto r = run(demo_spec(), {"--count", "11"});
    auto n = r.p.uint("count", 1, 10, 0);
    ASSERT_FALSE(n);
    EXPECT_EQ(n.error(), "--count: expected an integer 1..10, got '11'");
    r = run(demo_spec(), {"--count", "-1"});
    EXPECT_FALSE(r.p.uint("count", 0, 10, 0));
    r = run(demo_spec(), {"--count", "2.5"});
    EXPECT_FALSE(r.p.uint("count", 0, 10, 0));
    EXPECT_DOUBLE_EQ(*r.p.number("count", 0, 10, 0), 2.5);
    EXPECT_FALSE(r.p.number("count", 0, 2, 0));
    r = run(demo_spec(), {"--count", "nan"});
    EXPECT_FALSE(r.p.number("count", 0, 10, 0));
    EXPECT_EQ(*r.p.uint("absent", 0, 10, 4), 4u);
}

TEST(Cli, DeprecatedAliasesWarnAndCountAsTheirTarget) {
    auto r = run(demo_spec(), {"-x", "plain"});
    ASSERT_FALSE(r.code);
    EXPECT_EQ(r.p.value("crypto"), "plain");
    EXPECT_NE(r.err.find("warning: '-x' is deprecated, use -k/--crypto"), std::string::npos) << r.err;
    r = run(demo_spec(), {"--old-name=3"});
    ASSERT_FALSE(r.code);
    EXPECT_EQ(r.p.value("count"), "3");
    EXPECT_NE(r.err.find("'--old-name' is deprecated, use -n/--count"), std::string::npos) << r.err;
    r = run(demo_spec(), {"-x"});
    ASSERT_TRUE(r.code);
    EXPECT_EQ(*r.code, 2);
}

TEST(Cli, EalArgumentsAfterDoubleDashAreUntouched) {
    Spec s = demo_spec();
    s.eal_after_dashdash = true;
    auto r = run(s, {"-c", "f", "--", "--no-pci", "-l", "0", "--config", "eal"});
    ASSERT_FALSE(r.code) << r.err;
    EXPECT_EQ(r.p.value("config"), "f");
    EXPECT_EQ(r.p.rest, (std::vector<std::string>{"--no-pci", "-l", "0", "--config", "eal"}));
    r = run(s, {"--", "--help"});  // an EAL --help is not ours
    EXPECT_FALSE(r.code);
}

TEST(Cli, OperandsAndSubcommands) {
    Spec s = demo_spec();
    s.operands_allowed = true;
    auto r = run(s, {"a", "--json", "b"});  // options may follow operands
    ASSERT_FALSE(r.code);
    EXPECT_EQ(r.p.operands, (std::vector<std::string>{"a", "b"}));
    EXPECT_TRUE(r.p.has("json"));

    // Top level: options up to the subcommand; then the subcommand's own Spec from there.
    Spec top = demo_spec();
    top.stop_at_operand = true;
    std::vector<std::string> words{"demo", "-c", "f", "stats", "--json", "--count", "2"};
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    Parsed p;
    FILE* sink = std::tmpfile();
    ASSERT_FALSE(parse(top, 7, argv.data(), p, 1, sink, sink));
    EXPECT_EQ(p.value("config"), "f");
    EXPECT_FALSE(p.has("json"));
    ASSERT_EQ(p.operand_index, 3);
    Spec sub = demo_spec();
    sub.command = "stats";
    Parsed q;
    ASSERT_FALSE(parse(sub, 7, argv.data(), q, p.operand_index + 1, sink, sink));
    EXPECT_TRUE(q.has("json"));
    EXPECT_EQ(q.value("count"), "2");
    std::fclose(sink);
    auto e = run(sub, {"--nope"});
    EXPECT_EQ(e.err, "demo stats: unknown option '--nope' (try --help)\n");
    auto none = run(top, {"--json"});
    ASSERT_FALSE(none.code);
    EXPECT_EQ(none.p.operand_index, 2);  // argc: no subcommand
}

}  // namespace
}  // namespace rustun::cli
