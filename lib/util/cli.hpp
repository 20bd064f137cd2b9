// The command-line convention of every rustun binary (docs/cli.md): one parser on top of
// getopt_long, driven by a table of options.
//   * `-h/--help` prints the usage generated from the table on stdout and exits 0;
//   * `-V/--version` prints "<program> <git description>" (lib/util/version.hpp) and exits 0;
//   * an unknown option, a missing argument or a value given to a flag prints ONE line on stderr
//     naming the option, followed by "(try --help)", and exits 2 (usage_error() does the same
//     for the caller's own checks of the values);
//   * `-c/--config FILE` is the configuration file wherever a binary has one.
// Subcommand tools parse the subcommand first (split_subcommand) and then its options with a
// Spec of their own. The DPDK binaries set Spec::eal_after_dashdash: everything after the first
// `--` is returned untouched in Parsed::rest (the EAL arguments).
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.hpp"

namespace rustun::cli {

struct Option {
    const char* long_name;        // "config" (without the dashes); never null
    char short_name = 0;          // 'c', or 0 for none
    const char* arg = nullptr;    // the argument's name in the help ("FILE"); null = a flag
    const char* help = "";        // one line or several ('\n'); aligned in the help text
    // A deprecated spelling: given, it counts as the option `alias_of` names (its long name) and
    // prints a warning on stderr. Not listed in the help.
    const char* alias_of = nullptr;
};

struct Spec {
    std::string program;          // the binary's name: errors, --version
    std::string command;          // subcommand ("stats"), or empty; errors and usage name it
    std::string usage;            // after "usage: <program> [<command>] ", e.g. "[options] -- EAL-ARGS"
    std::string about;            // paragraph(s) after the usage line
    std::vector<Option> options;  // -h/--help and -V/--version are added by the parser
    std::string epilog;           // text after the option list (commands, exit codes, ...)
    bool eal_after_dashdash = false;  // arguments after the first "--" go to Parsed::rest
    bool operands_allowed = false;    // positional arguments (Parsed::operands); else an error
    // Subcommand tools: options end at the first positional argument (the subcommand), which
    // and everything after it are left to the caller: Parsed::operand_index.
    bool stop_at_operand = false;
};

class Parsed {
public:
    bool has(std::string_view long_name) const;
    // The last value given (options may repeat: the last wins), or `fallback`.
    std::string value(std::string_view long_name, std::string fallback = {}) const;
    // An unsigned integer in [min, max]; `fallback` if absent. The error names the option.
    Result<uint64_t> uint(std::string_view long_name, uint64_t min, uint64_t max, uint64_t fallback) const;
    // A finite number in [min, max]; `fallback` if absent.
    Result<double> number(std::string_view long_name, double min, double max, double fallback) const;

    std::vector<std::string> operands;  // positional arguments, in order
    std::vector<std::string> rest;      // after "--" (Spec::eal_after_dashdash)
    int operand_index = 0;              // Spec::stop_at_operand: argv index of the subcommand, or argc
    std::vector<std::pair<std::string, std::string>> given;  // (long name, value or "") in order
};

// Parses argv[first..argc). Returns nullopt when the program goes on with `out`, or the exit
// code it must return now: 0 after --help/--version (printed on `out_stream`), 2 after a usage
// error (one line on `err_stream`).
std::optional<int> parse(const Spec& spec, int argc, char** argv, Parsed& out, int first = 1,
                         FILE* out_stream = stdout, FILE* err_stream = stderr);

// The --help text of `spec`.
std::string help_text(const Spec& spec);

// "<program>[ <command>]: <message> (try --help)" on `err`; returns 2 (the usage-error code).
int usage_error(const Spec& spec, const std::string& message, FILE* err = stderr);

}  // namespace rustun::cli
