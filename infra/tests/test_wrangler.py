"""Checks the wrangler configs (router and functions) and infra/deploy-edge, offline.

Run by infra/check. The configs are read with tomllib; the environments must line up
with the SAM stacks (infra/template.yaml, samconfig.toml) the Workers share data with.
infra/deploy-edge runs here against stand-ins for `aws` and `wrangler` that record what
they are asked, so its commands and its handling of secrets are checked without AWS or
Cloudflare.
"""

import json
import os
import re
import stat
import subprocess
import tempfile
import tomllib
import unittest
from pathlib import Path

INFRA = Path(__file__).resolve().parent.parent
ROOT = INFRA.parent

ENVS = {"dev": "dev", "staging": "staging", "production": "prod"}  # wrangler env -> SAM Environment
FUNCTIONS = ["auth", "chat", "session", "admin"]
BINDINGS = {"AUTH": "auth", "CHAT": "chat", "SESSION": "session", "ADMIN": "admin"}


def load(path: str) -> dict:
    with open(ROOT / path, "rb") as f:
        return tomllib.load(f)


ROUTER = load("wrangler.toml")
FUNCTION_CONFIGS = {fn: load(f"functions/{fn}/wrangler.toml") for fn in FUNCTIONS}
ALL = {"router": ROUTER} | FUNCTION_CONFIGS


def deployed_name(config: dict, env: str) -> str:
    """The Worker's name in an environment: wrangler appends -<env> unless the env names it."""
    return config["env"][env].get("name", f"{config['name']}-{env}")


class Environments(unittest.TestCase):
    def test_every_config_has_the_three_environments(self):
        for name, config in ALL.items():
            with self.subTest(config=name):
                self.assertEqual(set(config["env"]), set(ENVS))

    def test_same_compatibility_date_everywhere(self):
        self.assertEqual(len({c["compatibility_date"] for c in ALL.values()}), 1)

    def test_function_workers_have_no_public_url(self):
        for fn, config in FUNCTION_CONFIGS.items():
            with self.subTest(function=fn):
                self.assertIs(config["workers_dev"], False)
                self.assertIs(config.get("preview_urls"), False)
                for env in ENVS:
                    self.assertIs(config["env"][env]["workers_dev"], False, env)
                    self.assertNotIn("routes", config["env"][env])
                    self.assertNotIn("route", config["env"][env])
                self.assertNotIn("routes", config)
                self.assertNotIn("route", config)

    def test_only_chat_has_a_cron_trigger_for_the_lease_sweep(self):
        # Inherited by every environment; the Worker's scheduled handler runs the sweep.
        self.assertEqual(FUNCTION_CONFIGS["chat"]["triggers"], {"crons": ["* * * * *"]})
        lib = (ROOT / "functions/chat/src/lib.rs").read_text()
        self.assertIn("#[event(scheduled)]", lib)
        self.assertIn("confab_edge::sweep(env)", lib)
        for name, config in ALL.items():
            with self.subTest(config=name):
                for env in ENVS:
                    self.assertNotIn("triggers", config["env"][env])
                if name != "chat":
                    self.assertNotIn("triggers", config)

    def test_routes_only_on_the_router_in_staging_and_production(self):
        self.assertNotIn("routes", ROUTER)
        self.assertNotIn("routes", ROUTER["env"]["dev"])
        for env in ("staging", "production"):
            with self.subTest(env=env):
                routes = ROUTER["env"][env]["routes"]
                self.assertGreaterEqual(len(routes), 1)
                for route in routes:
                    self.assertIs(route.get("custom_domain"), True)
                    self.assertNotIn("*", route["pattern"])
                self.assertIs(ROUTER["env"][env]["workers_dev"], False)
        patterns = [r["pattern"] for env in ("staging", "production") for r in ROUTER["env"][env]["routes"]]
        self.assertEqual(len(patterns), len(set(patterns)))
        self.assertIs(ROUTER["workers_dev"], False)
        self.assertIs(ROUTER.get("preview_urls"), False)

    def test_router_binds_the_functions_of_its_environment(self):
        top = {s["binding"]: s["service"] for s in ROUTER["services"]}
        self.assertEqual(top, {b: FUNCTION_CONFIGS[fn]["name"] for b, fn in BINDINGS.items()})
        for env in ENVS:
            with self.subTest(env=env):
                services = {s["binding"]: s["service"] for s in ROUTER["env"][env]["services"]}
                self.assertEqual(services, {b: f"confab-{fn}-{env}" for b, fn in BINDINGS.items()})
                for binding, fn in BINDINGS.items():
                    self.assertEqual(services[binding], deployed_name(FUNCTION_CONFIGS[fn], env))

    def test_router_rate_limit_in_every_environment(self):
        # The router tells limited clients to retry after this many seconds.
        edge = (ROOT / "shared/edge/src/edge.rs").read_text()
        retry_after = int(re.search(r"const RATE_PERIOD_SECONDS: u64 = (\d+);", edge).group(1))
        namespaces = []
        for where, config in [("top", ROUTER)] + [(env, ROUTER["env"][env]) for env in ENVS]:
            with self.subTest(env=where):
                limits = {r["name"]: r for r in config["ratelimits"]}
                self.assertEqual(set(limits), {"PER_IP"})
                simple = limits["PER_IP"]["simple"]
                self.assertIn(simple["period"], (10, 60))  # the only periods the binding allows
                self.assertEqual(simple["period"], retry_after, "Retry-After matches the period")
                self.assertGreater(simple["limit"], 0)
                namespaces.append(limits["PER_IP"]["namespace_id"])
        self.assertEqual(len(namespaces), len(set(namespaces)), "each environment counts in its own namespace")

    def test_router_serves_the_web_app_in_every_environment(self):
        # The router runs first and answers app paths from web/dist (scripts/web-dist,
        # run by its build) with the app's headers; nothing else serves files.
        expected = {"directory": "web/dist", "binding": "ASSETS", "run_worker_first": True,
                    "html_handling": "none", "not_found_handling": "none"}
        self.assertEqual(ROUTER["assets"], expected)
        for env in ENVS:
            with self.subTest(env=env):
                self.assertEqual(ROUTER["env"][env]["assets"], expected)
        for fn, config in FUNCTION_CONFIGS.items():
            self.assertNotIn("assets", config, fn)
        self.assertIn("web-dist", (ROOT / "scripts/worker-build").read_text())

    def test_vars_are_repeated_per_environment(self):
        # Vars are not inherited by environments: each one must carry its own.
        for env in ENVS:
            with self.subTest(config="router", env=env):
                self.assertEqual(ROUTER["env"][env]["vars"], ROUTER["vars"])
            for fn, config in FUNCTION_CONFIGS.items():
                with self.subTest(config=fn, env=env):
                    env_vars = config["env"][env]["vars"]
                    self.assertLessEqual({"CONFAB_SECRETS_PREFIX", "AWS_REGION"}, set(env_vars))
                    # The table and bucket come from the stack (deploy-edge --var); the
                    # local moto endpoint must not reach a deployed Worker.
                    self.assertFalse({"CONFAB_TABLE", "CONFAB_BUCKET", "AWS_ENDPOINT_URL"} & set(env_vars))
        for name, config in ALL.items():
            for where, vars_ in [("top", config.get("vars", {}))] + [(e, config["env"][e].get("vars", {})) for e in ENVS]:
                with self.subTest(config=name, env=where):
                    self.assertFalse({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} & set(vars_),
                                     "credentials are Worker secrets, never vars")

    def test_secrets_prefix_and_region_match_the_sam_stacks(self):
        template = (INFRA / "template.yaml").read_text()
        self.assertIn('Value: !Sub "confab/${Environment}/"', template)
        allowed = re.search(r"Environment:\n\s+Type: String\n\s+AllowedValues: \[([^\]]+)\]", template).group(1)
        self.assertEqual({v.strip() for v in allowed.split(",")}, set(ENVS.values()))
        samconfig = load("samconfig.toml")
        for env, sam_env in ENVS.items():
            deploy = samconfig[sam_env]["deploy"]["parameters"]
            self.assertIn(f"Environment={sam_env}", deploy["parameter_overrides"])
            self.assertEqual(deploy["stack_name"], f"confab-{sam_env}")
            for fn, config in FUNCTION_CONFIGS.items():
                with self.subTest(function=fn, env=env):
                    env_vars = config["env"][env]["vars"]
                    self.assertEqual(env_vars["CONFAB_SECRETS_PREFIX"], f"confab/{sam_env}/")
                    self.assertEqual(env_vars["AWS_REGION"], deploy["region"])


def executable(path: Path, text: str):
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


# Stand-ins: each records its arguments (and stdin) as one JSON line in $LOG.
FAKE_AWS = r'''#!/usr/bin/env python3
import json, os, sys
args = sys.argv[1:]
state_path = os.environ["STATE"]
state = json.load(open(state_path))
with open(os.environ["LOG"], "a") as log:
    log.write(json.dumps({"cmd": "aws", "args": args}) + "\n")
def arg(name):
    return args[args.index(name) + 1]
if args[:2] == ["cloudformation", "describe-stacks"]:
    assert arg("--stack-name") == "confab-prod", args
    for key, value in state["outputs"].items():
        print(f"{key}\t{value}")
elif args[:2] == ["iam", "list-access-keys"]:
    print("\t".join(state["keys"].get(arg("--user-name"), [])))
elif args[:2] == ["iam", "create-access-key"]:
    user = arg("--user-name")
    key_id = f"AKIA{user.upper()}{len(state['keys'].get(user, []))}"
    state["keys"].setdefault(user, []).append(key_id)
    print(json.dumps({"AccessKey": {"UserName": user, "AccessKeyId": key_id, "Status": "Active",
                                    "SecretAccessKey": "SECRET-" + key_id}}))
elif args[:2] == ["iam", "delete-access-key"]:
    state["keys"][arg("--user-name")].remove(arg("--access-key-id"))
else:
    sys.exit(f"fake aws: unexpected {args}")
json.dump(state, open(state_path, "w"))
'''

FAKE_WRANGLER = r'''#!/usr/bin/env python3
import json, os, sys
args = sys.argv[1:]
stdin = sys.stdin.read() if args[:2] == ["secret", "bulk"] else None
state_path = os.environ["STATE"]
state = json.load(open(state_path))
with open(os.environ["LOG"], "a") as log:
    log.write(json.dumps({"cmd": "wrangler", "args": args, "stdin": stdin}) + "\n")
config = args[args.index("-c") + 1]
if args[:2] == ["secret", "list"]:
    print(json.dumps([{"name": n, "type": "secret_text"} for n in state["secrets"].get(config, [])]))
elif args[:2] == ["secret", "bulk"]:
    state["secrets"][config] = sorted(json.loads(stdin))
    print("Finished processing secrets file: 2 secrets successfully uploaded")
json.dump(state, open(state_path, "w"))
'''


class DeployEdge(unittest.TestCase):
    def run_script(self, *args, keys=None, secrets=None):
        with tempfile.TemporaryDirectory() as work:
            work = Path(work)
            bin_dir = work / "bin"
            bin_dir.mkdir()
            executable(bin_dir / "aws", FAKE_AWS)
            executable(bin_dir / "wrangler", FAKE_WRANGLER)
            outputs = {"TableName": "confab-prod-Table-1", "BucketName": "confab-prod-bucket-1",
                       "SecretsPrefix": "confab/prod/", "PublicUrl": "https://d.cloudfront.net"}
            outputs |= {f"{fn.capitalize()}EdgeUserName": f"edge{fn}" for fn in FUNCTIONS}
            state = {"outputs": outputs, "keys": keys or {}, "secrets": secrets or {}}
            (work / "state.json").write_text(json.dumps(state))
            env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(work), "LOG": str(work / "log"),
                   "STATE": str(work / "state.json"), "WRANGLER": str(bin_dir / "wrangler"),
                   "CONFAB_KEY_GRACE_SECONDS": "0", "AWS_REGION": "us-east-1"}
            result = subprocess.run([str(INFRA / "deploy-edge"), *args], capture_output=True, text=True,
                                    env=env, cwd=str(work), timeout=120)
            log = [json.loads(line) for line in (work / "log").read_text().splitlines()] if (work / "log").exists() else []
            return result, log, json.loads((work / "state.json").read_text())

    def assert_no_secret_leaks(self, result, log):
        for entry in log:
            self.assertNotIn("SECRET-", " ".join(entry["args"]))
        self.assertNotIn("SECRET-", result.stdout + result.stderr)

    def test_first_deploy_functions_then_keys_then_router(self):
        result, log, state = self.run_script("prod")
        self.assertEqual(result.returncode, 0, result.stderr)
        deploys = [e["args"] for e in log if e["cmd"] == "wrangler" and e["args"][0] == "deploy"]
        self.assertEqual([d[d.index("-c") + 1] for d in deploys],
                         [f"functions/{fn}/wrangler.toml" for fn in FUNCTIONS] + ["wrangler.toml"])
        for d in deploys:
            self.assertEqual(d[d.index("--env") + 1], "production")
        for d in deploys[:-1]:
            self.assertIn("CONFAB_TABLE:confab-prod-Table-1", d)
            self.assertIn("CONFAB_BUCKET:confab-prod-bucket-1", d)
        self.assertNotIn("--var", deploys[-1])
        # Every function got a key through stdin, before the router went out.
        bulks = [e for e in log if e["cmd"] == "wrangler" and e["args"][:2] == ["secret", "bulk"]]
        self.assertEqual(len(bulks), 4)
        for fn, bulk in zip(FUNCTIONS, bulks):
            self.assertEqual(bulk["args"][bulk["args"].index("--env") + 1], "production")
            self.assertEqual(json.loads(bulk["stdin"]), {"AWS_ACCESS_KEY_ID": f"AKIAEDGE{fn.upper()}0",
                                                         "AWS_SECRET_ACCESS_KEY": f"SECRET-AKIAEDGE{fn.upper()}0"})
        router = next(i for i, e in enumerate(log) if e["cmd"] == "wrangler" and e["args"][0] == "deploy"
                      and e["args"][e["args"].index("-c") + 1] == "wrangler.toml")
        self.assertGreater(router, max(log.index(b) for b in bulks))
        self.assertEqual(state["keys"], {f"edge{fn}": [f"AKIAEDGE{fn.upper()}0"] for fn in FUNCTIONS})
        self.assert_no_secret_leaks(result, log)

    def test_a_redeploy_keeps_the_keys(self):
        secrets = {f"functions/{fn}/wrangler.toml": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] for fn in FUNCTIONS}
        result, log, _ = self.run_script("production", secrets=secrets)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertFalse([e for e in log if e["args"][:2] in (["iam", "create-access-key"], ["secret", "bulk"])])

    def test_keys_rotates_and_deletes_the_old_key(self):
        result, log, state = self.run_script("prod", "keys", "chat", keys={"edgechat": ["AKIAOLD"]})
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(state["keys"]["edgechat"], ["AKIAEDGECHAT1"])
        self.assertFalse([e for e in log if e["args"][0] == "deploy"])
        delete = [e["args"] for e in log if e["args"][:2] == ["iam", "delete-access-key"]]
        self.assertEqual(delete, [["iam", "delete-access-key", "--user-name", "edgechat", "--access-key-id", "AKIAOLD"]])
        self.assert_no_secret_leaks(result, log)

    def test_keys_refuses_a_user_with_two_keys(self):
        result, log, state = self.run_script("prod", "keys", "auth", keys={"edgeauth": ["AKIA1", "AKIA2"]})
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("already has two access keys", result.stderr)
        self.assertEqual(state["keys"]["edgeauth"], ["AKIA1", "AKIA2"])

    def test_unknown_environment_or_function(self):
        self.assertNotEqual(self.run_script("qa")[0].returncode, 0)
        self.assertNotEqual(self.run_script("prod", "keys", "router")[0].returncode, 0)

    def test_script_is_bash_clean(self):
        self.assertEqual(subprocess.run(["bash", "-n", str(INFRA / "deploy-edge")]).returncode, 0)


if __name__ == "__main__":
    unittest.main()
