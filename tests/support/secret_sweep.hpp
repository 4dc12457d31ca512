#pragma once
// The secrets sweep (issue 22). With CRS_SWEEP_DIR set (ctest sets it for every test), the test
// support writes down every secret the tests hand the relay (environment, config files, CLI
// flags, request headers and bodies, what it generates on a first start) and keeps every
// answer it gives back (HTTP answers, CLI output) and every log it writes. The last test,
// tests/sweep/secrets_sweep.py, looks for each secret in all of them: there must be none.
// An answer may announce a secret it has just made (a new key, a login token, a generated
// password) in its own member; that one occurrence is recorded as a secret and not counted.
#include <string>
#include <string_view>
#include <vector>

namespace crs::test::sweep {

bool enabled();

void secret(std::string_view value);
// Values of members or lines named like credentials (apiKey, password, token, secret...).
void secrets_in_json(std::string_view text);
void secrets_in_config(std::string_view text);                // TOML or .env lines
void secrets_in_env(const std::vector<std::string>& env);     // NAME=value
void secrets_in_args(const std::vector<std::string>& args);   // --api-key VALUE ...
// The command line with credential values and URLs masked, to name an answer by.
std::string masked_command(const std::vector<std::string>& args);

// `announces`: the answer may carry a secret it has just made (see above).
void answer(std::string_view what, std::string_view text, bool announces = false);
// Copies a relay's log files (serve.log and logs/) and records what it generated on a first
// start (data/secrets.env, the admin password in data/init.json).
void keep_relay_files(const std::string& relay_dir);

}  // namespace crs::test::sweep
