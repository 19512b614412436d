"""Checks infra/cloudflare (Terraform, Cloudflare provider v5) offline.

Run by infra/check. The HCL is parsed with python-hcl2 (no provider, no network); where
the rules must follow the code (routes, methods, error codes, the body cap) the test
reads the Rust sources and the wrangler configs, so drift there fails here. When a
`terraform` (or `tofu`) binary is on PATH it also checks formatting and evaluates the
rule expressions from locals.tf with `terraform console` (no provider needed); without
one those tests are skipped. Nothing here talks to Cloudflare.
"""

import json
import os
import re
import shutil
import subprocess
import tempfile
import tomllib
import unittest
from pathlib import Path

import hcl2

INFRA = Path(__file__).resolve().parent.parent
ROOT = INFRA.parent
TF = INFRA / "cloudflare"

CLOUDFLARE_MANAGED = "efb7b8c949ac4650a09736fc376e9aee"
OWASP_CORE = "4814384a9e5d4991b9815dcfc25d2f1f"
OWASP_ANOMALY_RULE = "6179ae15870a4bb7b2d480d4843b323c"
# Periods Cloudflare accepts for rate limiting rules; Pro allows counting periods up to 60 s.
PERIODS = {10, 15, 20, 30, 40, 45, 60, 90, 120, 180, 240, 300, 480, 600, 900, 1200, 1800, 2400, 3600, 65535, 86400}


def unq(value):
    """python-hcl2 keeps string literals quoted ('"zone"'); this gives the string."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            return json.loads(value, strict=False)  # heredocs keep their newlines
        except json.JSONDecodeError:
            return value[1:-1]
    if isinstance(value, list):
        return [unq(v) for v in value]
    if isinstance(value, dict):
        return {unq(k): unq(v) for k, v in value.items() if k not in ("__is_block__", "__comments__")}
    return value


def parse(path: Path) -> dict:
    with open(path) as f:
        return hcl2.load(f)


def load_config() -> dict:
    config = {"resource": {}, "data": {}, "variable": {}, "output": {}, "locals": {}, "terraform": []}
    for path in sorted(TF.glob("*.tf")):
        doc = parse(path)
        for block in doc.get("resource", []) + doc.get("data", []):
            kind = "resource" if block in doc.get("resource", []) else "data"
            for rtype, named in block.items():
                for name, body in named.items():
                    config[kind][(unq(rtype), unq(name))] = unq(body)
        for key in ("variable", "output"):
            for block in doc.get(key, []):
                for name, body in block.items():
                    config[key][unq(name)] = unq(body)
        for block in doc.get("locals", []):
            for name, value in block.items():
                if name not in ("__is_block__", "__comments__"):
                    assert name not in config["locals"], f"local {name} defined twice"
                    config["locals"][name] = unq(value)
        config["terraform"] += [unq(t) for t in doc.get("terraform", [])]
    return config


CONFIG = load_config()
LOCALS = CONFIG["locals"]
RULESETS = {name: body for (rtype, name), body in CONFIG["resource"].items() if rtype == "cloudflare_ruleset"}


def ruleset(phase: str) -> dict:
    found = [r for r in RULESETS.values() if r["phase"] == phase]
    assert len(found) == 1, f"one ruleset for {phase}, found {len(found)}"
    return found[0]


def rust(path: str) -> str:
    return (ROOT / path).read_text()


def for_path_segments() -> dict:
    """First path segment -> function, from Function::for_path in the core."""
    source = rust("shared/core/src/routes/mod.rs")
    body = source[source.index("pub fn for_path"):]
    body = body[:body.index("\n    }\n")]
    out = {}
    for line in body.splitlines():
        m = re.search(r"=> Some\(Function::(\w+)\)", line)
        if m:
            for segment in re.findall(r'"([^"]+)"', line.split("=>")[0]):
                out[segment] = m.group(1)
    assert len(out) >= 6, out
    return out


def route_methods() -> set:
    """Methods the routes answer (by_method! arms), under shared/core/src/routes."""
    out = set()
    for path in (ROOT / "shared/core/src/routes").rglob("*.rs"):
        out |= set(re.findall(r"\b(GET|HEAD|POST|PUT|PATCH|DELETE)\s*=>", path.read_text()))
    return out


def wrangler(path: str) -> dict:
    with open(ROOT / path, "rb") as f:
        return tomllib.load(f)


def default(variable: str):
    return CONFIG["variable"][variable]["default"]


class Provider(unittest.TestCase):
    def test_provider_is_pinned_to_v5(self):
        providers = {}
        for block in CONFIG["terraform"]:
            for required in block.get("required_providers", []):
                providers |= required
        self.assertEqual(providers["cloudflare"]["source"], "cloudflare/cloudflare")
        self.assertRegex(providers["cloudflare"]["version"], r"^~> 5\.\d+$")

    def test_no_credentials_in_files(self):
        # The API token comes from CLOUDFLARE_API_TOKEN; the provider block sets nothing.
        for path in list(TF.glob("*.tf")) + list(TF.glob("*.example")):
            text = path.read_text()
            with self.subTest(file=path.name):
                self.assertNotRegex(text, r"(?m)^\s*(api_token|api_key|api_user_service_key|email)\s*=")
                self.assertNotRegex(text, r"[A-Za-z0-9_-]{40}")  # the shape of an API token
        ignored = (TF / ".gitignore").read_text().split()
        for pattern in ("*.tfvars", "*.tfstate", ".terraform/"):
            self.assertIn(pattern, ignored)

    def test_variables(self):
        self.assertLessEqual({"zone_id", "account_id", "hostnames", "environment"}, set(CONFIG["variable"]))
        # The zone must belong to the account: checked against the zone's data at plan time.
        zone = CONFIG["data"][("cloudflare_zone", "this")]
        conditions = json.dumps(zone["lifecycle"])
        self.assertIn("self.account.id == var.account_id", conditions)
        self.assertIn("endswith(h", conditions)

    def test_body_cap_is_the_routers(self):
        router = wrangler("wrangler.toml")
        caps = {router["vars"]["CONFAB_MAX_BODY_BYTES"]}
        caps |= {env["vars"]["CONFAB_MAX_BODY_BYTES"] for env in router["env"].values()}
        self.assertEqual(caps, {str(default("max_body_bytes"))})

    def test_outputs(self):
        self.assertLessEqual({"custom_ruleset_id", "managed_ruleset_id", "ratelimit_ruleset_id", "hostnames"},
                             set(CONFIG["output"]))


class Rulesets(unittest.TestCase):
    def test_three_zone_entry_points(self):
        self.assertEqual({r["phase"] for r in RULESETS.values()},
                         {"http_request_firewall_custom", "http_request_firewall_managed", "http_ratelimit"})
        for name, r in RULESETS.items():
            with self.subTest(ruleset=name):
                self.assertEqual(r["kind"], "zone")
                self.assertEqual(r["zone_id"], "${var.zone_id}")
                self.assertNotIn("account_id", r)

    def test_every_rule_is_scoped_to_the_routers_hosts_and_enabled(self):
        self.assertEqual(LOCALS["hosts"],
                         '${format("(http.host in {%s})", join(" ", [for h in var.hostnames : jsonencode(h)]))}')
        for name, r in RULESETS.items():
            for rule in r["rules"]:
                with self.subTest(ruleset=name, rule=rule["ref"]):
                    self.assertTrue(rule["expression"].startswith("${local.hosts}"), rule["expression"])
                    self.assertIs(rule["enabled"], True)
                    self.assertTrue(rule["ref"].startswith("confab_"))
        refs = [rule["ref"] for r in RULESETS.values() for rule in r["rules"]]
        self.assertEqual(len(refs), len(set(refs)))

    def test_managed_rulesets_are_deployed_and_enforced(self):
        rules = ruleset("http_request_firewall_managed")["rules"]
        executed = {LOCALS[rule["action_parameters"]["id"].removeprefix("${local.").removesuffix("}")]: rule
                    for rule in rules}
        self.assertEqual(set(executed), {CLOUDFLARE_MANAGED, OWASP_CORE})
        for rule in rules:
            self.assertEqual(rule["action"], "execute")
        # The Cloudflare Managed Ruleset runs on every request to the router's hosts.
        self.assertEqual(executed[CLOUDFLARE_MANAGED]["expression"], "${local.hosts}")
        # OWASP blocks (not log-only) on its anomaly score...
        owasp = executed[OWASP_CORE]["action_parameters"]["overrides"]
        anomaly = [r for r in owasp["rules"] if LOCALS[r["id"].removeprefix("${local.").removesuffix("}")] == OWASP_ANOMALY_RULE]
        self.assertEqual(len(anomaly), 1)
        self.assertEqual(anomaly[0]["action"], "block")
        self.assertIn(anomaly[0]["score_threshold"], (25, 40, 60))
        # ...everywhere but the chat function's paths (prompts full of code), and only those.
        chat = sorted(s for s, f in for_path_segments().items() if f == "Chat")
        excluded = re.findall(r'starts_with\(http\.request\.uri\.path, \\?"(/[^"\\]+/)\\?"\)',
                              executed[OWASP_CORE]["expression"])
        self.assertEqual(sorted(excluded), [f"/{s}/" for s in chat])
        self.assertIn("and not (", executed[OWASP_CORE]["expression"])

    def test_custom_rules(self):
        rules = {rule["ref"]: rule for rule in ruleset("http_request_firewall_custom")["rules"]}
        self.assertEqual(set(rules), {"confab_require_https", "confab_allowed_methods", "confab_api_paths_only",
                                      "confab_body_size"})
        for rule in rules.values():
            self.assertEqual(rule["action"], "block")
        self.assertEqual(rules["confab_require_https"]["expression"], "${local.hosts} and not ssl")
        self.assertEqual(rules["confab_allowed_methods"]["expression"], "${local.hosts} and not ${local.method_allowed}")
        self.assertEqual(rules["confab_api_paths_only"]["expression"],
                         "${local.hosts} and not ${local.api_path} and not ${local.app_request}")
        self.assertEqual(rules["confab_body_size"]["expression"], "${local.hosts} and ${local.body_too_large}")

    def test_blocks_answer_with_the_apps_error_codes(self):
        errors = rust("shared/core/src/error.rs")
        for r in RULESETS.values():
            for rule in r["rules"]:
                if rule["action"] != "block":
                    continue
                with self.subTest(rule=rule["ref"]):
                    m = re.fullmatch(r"\$\{var\.json_errors \? local\.error_response\.(\w+) : null\}",
                                     rule["action_parameters"])
                    self.assertTrue(m, rule["action_parameters"])
                    code = m.group(1)
                    self.assertIn(code, LOCALS["errors"])
                    if code != "https_required":  # only the edge answers that one
                        self.assertIn(f'=> "{code}"', errors)

    def test_method_allowlist_is_what_the_api_answers(self):
        allowed = set(LOCALS["allowed_methods"])
        self.assertEqual(allowed, route_methods() | {"OPTIONS"})
        cors = re.search(r'ALLOW_METHODS: &str = "([^"]+)"', rust("shared/core/src/middleware/cors.rs")).group(1)
        self.assertEqual(allowed, set(cors.replace(" ", "").split(",")))
        self.assertIn("local.allowed_methods", LOCALS["method_allowed"])

    def test_path_allowlist_is_the_cores_routing(self):
        # Function::for_path routes by the first segment: the WAF must let through exactly
        # those segments (as /<segment> and /<segment>/...), and /openapi.json.
        segments = set(for_path_segments())
        documents = {s for s in segments if "." in s}
        self.assertEqual(set(LOCALS["api_segments"]), segments - documents)
        self.assertEqual(set(LOCALS["api_documents"]), {f"/{d}" for d in documents})
        self.assertIn("local.api_segments", LOCALS["api_path"])
        self.assertIn("local.api_documents", LOCALS["api_path"])
        self.assertIn('starts_with(http.request.uri.path, %s)", jsonencode("/${s}/")', LOCALS["api_path"])

    def test_the_web_app_passes_by_get_only(self):
        # webapp.rs: files under /assets/ for anyone, pages for browsers (Accept: text/html).
        source = rust("shared/core/src/webapp.rs")
        self.assertIn('const ASSETS: &str = "/assets/";', source)
        self.assertIn('a.contains("text/html")', source)
        self.assertEqual(LOCALS["app_request"],
                         '(http.request.method eq "GET" and (starts_with(http.request.uri.path, "/assets/")'
                         ' or any(http.request.headers["accept"][*] contains "text/html")))')

    def test_body_size_uses_the_body_field_or_content_length(self):
        expr = LOCALS["over_cap"]
        self.assertIn("var.body_size_field ? \"(http.request.body.size gt ${cap})\"", expr)
        self.assertIn("body = local.max_body, attachment = tostring(var.max_attachment_bytes)", expr)
        self.assertEqual(LOCALS["content_length"], 'http.request.headers["content-length"][0]')
        self.assertEqual(LOCALS["max_body"], "${tostring(var.max_body_bytes)}")

    def test_attachment_uploads_are_the_cores(self):
        # The path http::is_attachment_upload takes: POST /sessions/<id>/attachments.
        core = rust("shared/core/src/http/mod.rs")
        self.assertIn('matches!(segments[..], ["sessions", _, "attachments"])', core)
        self.assertIn("method == http::Method::POST && is_attachments_path(path)", core)
        upload = LOCALS["attachment_upload"]
        for part in ('http.request.method eq \"POST\"', 'starts_with(http.request.uri.path, \"/sessions/\")',
                     'ends_with(http.request.uri.path, \"/attachments\")'):
            self.assertIn(part.replace('\\"', '"'), upload)

    def test_rate_limits_per_ip_stricter_on_login(self):
        r = ruleset("http_ratelimit")
        rules = r["rules"]
        self.assertEqual([rule["ref"] for rule in rules], ["confab_auth_per_ip", "confab_api_per_ip"])
        self.assertEqual(LOCALS["per_ip"], ["ip.src", "cf.colo.id"])
        for rule in rules:
            with self.subTest(rule=rule["ref"]):
                self.assertEqual(rule["action"], "block")
                self.assertEqual(rule["ratelimit"]["characteristics"], "${local.per_ip}")
        auth, api = rules
        self.assertEqual(auth["expression"], "${local.hosts} and ${local.auth_sensitive}")
        self.assertEqual(api["expression"], "${local.hosts}")
        self.assertEqual(auth["ratelimit"]["requests_per_period"], "${var.auth_rate_limit.requests_per_period}")
        self.assertEqual(api["ratelimit"]["requests_per_period"], "${var.rate_limit.requests_per_period}")
        self.assertEqual(LOCALS["auth_sensitive_paths"], ["/auth/login", "/auth/register", "/auth/password/reset"])
        auth_routes = rust("shared/core/src/routes/auth/mod.rs")
        for segment in ("login", "register"):
            self.assertIn(f'"{segment}"', auth_routes)
        strict, loose = default("auth_rate_limit"), default("rate_limit")
        self.assertLess(strict["requests_per_period"] / strict["period"], loose["requests_per_period"] / loose["period"])
        self.assertGreaterEqual(strict["mitigation_timeout"], loose["mitigation_timeout"])
        for limits in (strict, loose):
            self.assertIn(limits["period"], PERIODS)
            self.assertLessEqual(limits["period"], 60)  # a Pro zone's longest period
            self.assertIn(limits["mitigation_timeout"], PERIODS)
        # The plan-time check that keeps tfvars from inverting the two.
        self.assertIn("var.auth_rate_limit.requests_per_period / var.auth_rate_limit.period <",
                      json.dumps(r["lifecycle"]))
        # Below Business, rate limiting expressions may use host and path only.
        for name in ("hosts", "auth_sensitive"):
            self.assertNotIn("method", LOCALS[name])
        # The router counts the same default limit per address (its PER_IP binding).
        router = wrangler("wrangler.toml")
        for env in router["env"].values():
            limit = env["ratelimits"][0]["simple"]
            self.assertEqual(limit["limit"] / limit["period"], loose["requests_per_period"] / loose["period"])


class TfvarsExamples(unittest.TestCase):
    def test_one_per_public_environment_naming_the_routers_domains(self):
        router = wrangler("wrangler.toml")
        examples = sorted(TF.glob("*.tfvars.example"))
        self.assertEqual([p.name for p in examples], ["production.tfvars.example", "staging.tfvars.example"])
        for path in examples:
            env = path.name.split(".")[0]
            with self.subTest(env=env):
                values = unq(parse(path))
                self.assertEqual(values["environment"], env)
                routes = {r["pattern"] for r in router["env"][env]["routes"] if r.get("custom_domain")}
                self.assertEqual(set(values["hostnames"]), routes)
                self.assertEqual(values["max_body_bytes"], int(router["env"][env]["vars"]["CONFAB_MAX_BODY_BYTES"]))
                for key in ("account_id", "zone_id"):
                    self.assertRegex(values[key], r"^[0-9a-f]{32}$")


def terraform_binary():
    return shutil.which("terraform") or shutil.which("tofu")


def terraform_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    env |= {"CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}  # no version check over the network
    return env


@unittest.skipUnless(terraform_binary(), "no terraform or tofu on PATH: fmt and expression evaluation skipped")
class WithTerraform(unittest.TestCase):
    def test_fmt(self):
        result = subprocess.run([terraform_binary(), "fmt", "-check", "-diff", "-recursive", str(TF)],
                                capture_output=True, text=True, env=terraform_env())
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def evaluate(self, expression: str, **variables):
        """Evaluates an expression over variables.tf and locals.tf (no provider needed)."""
        with tempfile.TemporaryDirectory() as work:
            for name in ("variables.tf", "locals.tf"):
                shutil.copy(TF / name, work)
            values = {"account_id": "0" * 32, "zone_id": "1" * 32, "environment": "production",
                      "hostnames": ["chat.example.com"]} | variables
            Path(work, "test.tfvars.json").write_text(json.dumps(values))
            result = subprocess.run([terraform_binary(), "console", "-no-color", "-var-file=test.tfvars.json"],
                                    input=f"jsonencode({expression})\n", capture_output=True, text=True,
                                    cwd=work, env=terraform_env(), timeout=60)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertNotIn("Invalid value for variable", result.stdout + result.stderr)
            return json.loads(json.loads(result.stdout.strip().splitlines()[-1]))

    def test_rendered_expressions(self):
        out = self.evaluate("{hosts = local.hosts, path = local.api_path, methods = local.method_allowed,"
                            " auth = local.auth_sensitive, body = local.body_too_large}",
                            hostnames=["chat.example.com", "staging.chat.example.com"])
        self.assertEqual(out["hosts"], '(http.host in {"chat.example.com" "staging.chat.example.com"})')
        self.assertEqual(out["methods"], '(http.request.method in {"GET" "POST" "PUT" "PATCH" "DELETE" "OPTIONS"})')
        self.assertEqual(out["auth"], '(http.request.uri.path in {"/auth/login" "/auth/register" "/auth/password/reset"})')
        exact = set(re.search(r"in \{([^}]*)\}", out["path"]).group(1).replace('"', "").split())
        prefixes = set(re.findall(r'starts_with\(http\.request\.uri\.path, "([^"]+)"\)', out["path"]))
        segments = for_path_segments()
        self.assertEqual(exact, {f"/{s}" for s in segments})
        self.assertEqual(prefixes, {f"/{s}/" for s in segments if "." not in s})
        cl = 'http.request.headers["content-length"][0]'
        upload = ('(http.request.method eq "POST" and starts_with(http.request.uri.path, "/sessions/")'
                  ' and ends_with(http.request.uri.path, "/attachments"))')
        json_cap = f'(len({cl}) gt 7 or (len({cl}) eq 7 and {cl} gt "1048576"))'
        file_cap = f'(len({cl}) gt 7 or (len({cl}) eq 7 and {cl} gt "5242880"))'
        self.assertEqual(out["body"], f"(({upload} and {file_cap}) or (not {upload} and {json_cap}))")
        body = self.evaluate("local.over_cap", body_size_field=True, max_body_bytes=2097152, max_attachment_bytes=4096)
        self.assertEqual(body, {"body": "(http.request.body.size gt 2097152)",
                                "attachment": "(http.request.body.size gt 4096)"})

    def test_content_length_comparison_is_numeric(self):
        # The rule compares Content-Length as a string (no numbers below Enterprise): check
        # that "more digits, or as many and greater" is "greater than the cap".
        for cap in (1048576, 65536, 1000000):
            expr = self.evaluate("local.over_cap.body", max_body_bytes=cap)
            m = re.fullmatch(r'\(len\(\S+\) gt (\d+) or \(len\(\S+\) eq (\d+) and \S+ gt "(\d+)"\)\)', expr)
            self.assertTrue(m, expr)
            digits, same, threshold = int(m.group(1)), int(m.group(2)), m.group(3)

            def blocked(value: str) -> bool:
                return len(value) > digits or (len(value) == same and value > threshold)

            for n in [0, 1, 9, cap - 1, cap, cap + 1, cap * 9, cap * 10, 10 ** len(str(cap)) - 1, 10 ** 12]:
                with self.subTest(cap=cap, n=n):
                    self.assertEqual(blocked(str(n)), n > cap)

    def test_validation_rejects_dev_and_bad_ids(self):
        with tempfile.TemporaryDirectory() as work:
            shutil.copy(TF / "variables.tf", work)
            for bad in ({"environment": "dev"}, {"zone_id": "not-an-id"}, {"hostnames": ["https://x.example"]},
                        {"rate_limit": {"requests_per_period": 1, "period": 7, "mitigation_timeout": 10}}):
                values = {"account_id": "0" * 32, "zone_id": "1" * 32, "environment": "staging",
                          "hostnames": ["x.example.com"]} | bad
                Path(work, "t.tfvars.json").write_text(json.dumps(values))
                result = subprocess.run([terraform_binary(), "console", "-no-color", "-var-file=t.tfvars.json"],
                                        input="var.environment\n", capture_output=True, text=True,
                                        cwd=work, env=terraform_env(), timeout=60)
                with self.subTest(bad=bad):  # console reports failed validations, and goes on
                    self.assertIn("Invalid value for variable", result.stdout + result.stderr)


if __name__ == "__main__":
    unittest.main()
