"""Checks infra/template.yaml against what the code needs, offline.

Run by infra/check (python -m unittest discover -s infra/tests). The template is read
with cfn-lint's decoder, so !Ref, !GetAtt and !Sub parse; the SAM transform runs locally
(samtranslator, no AWS calls) where generated resources matter. Where the template must
follow the code (secret names, routes, DynamoDB and S3 operations) the test reads the
Rust sources, so a change there that needs a template change fails here.
"""

import base64
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import unittest
from pathlib import Path

from cfnlint.decode import decode

INFRA = Path(__file__).resolve().parent.parent
ROOT = INFRA.parent
TEMPLATE_PATH = INFRA / "template.yaml"

FUNCTIONS = ["Auth", "Chat", "Session", "Admin"]
PROVIDERS = ["openai", "anthropic", "gemini", "bedrock"]
PROVIDER_SECRETS = ["OpenaiApiKeySecret", "AnthropicApiKeySecret", "GeminiApiKeySecret", "BedrockApiKeySecret"]
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
ALL_METHODS = {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"


def load_template() -> dict:
    template, matches = decode(str(TEMPLATE_PATH))
    if matches:
        raise AssertionError(f"template does not parse: {matches}")
    return json.loads(json.dumps(template))  # plain dicts and lists


TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]


def transformed() -> dict:
    """The template after the SAM transform, as CloudFormation would receive it."""
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self):
            raise AssertionError("the template must not name managed policies (the lookup needs AWS)")

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # its unpublished-metrics warning
    template = json.loads(json.dumps(TEMPLATE))
    for resource in template["Resources"].values():
        if "CodeUri" in resource.get("Properties", {}):
            resource["Properties"]["CodeUri"] = "s3://confab-artifacts/code.zip"  # what sam package puts there
    return transform(template, {}, NoManagedPolicies())


def show(value) -> str:
    """A short, comparable form of a value that may be an intrinsic function."""
    if isinstance(value, dict) and len(value) == 1:
        (name, arg), = value.items()
        if name == "Ref":
            return f"Ref({arg})"
        if name == "Fn::GetAtt":
            return f"GetAtt({arg if isinstance(arg, str) else '.'.join(arg)})"
        if name == "Fn::Sub" and isinstance(arg, str):
            return f"Sub({arg})"
    return json.dumps(value, sort_keys=True)


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def document_grants(document: dict) -> set:
    """(action, resource, condition) for every statement of a policy document (all Allow)."""
    out = set()
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow", statement
        assert "NotAction" not in statement and "NotResource" not in statement, statement
        condition = json.dumps(statement["Condition"], sort_keys=True) if "Condition" in statement else None
        for action in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                out.add((action, show(resource), condition))
    return out


def inline_grants(principal: dict) -> set:
    out = set()
    for policy in principal["Properties"].get("Policies", []):
        out |= document_grants(policy["PolicyDocument"])
    return out


def managed_policies(principal: dict) -> list:
    """The template's own managed policies attached to a role or user (nothing else allowed)."""
    names = []
    for arn in principal["Properties"].get("ManagedPolicyArns", []):
        assert set(arn) == {"Ref"}, f"only this template's managed policies may be attached: {arn}"
        assert RESOURCES[arn["Ref"]]["Type"] == "AWS::IAM::ManagedPolicy", arn
        names.append(arn["Ref"])
    return names


def grants(principal: dict) -> set:
    """(action, resource, condition) for everything a role or user is allowed: its inline
    policies and the managed policies attached to it."""
    out = inline_grants(principal)
    for name in managed_policies(principal):
        out |= document_grants(RESOURCES[name]["Properties"]["PolicyDocument"])
    return out


def role_of(function: str) -> dict:
    role = RESOURCES[f"{function}Function"]["Properties"]["Role"]
    assert show(role) == f"GetAtt({function}Role.Arn)", role
    return RESOURCES[f"{function}Role"]


def edge_user_of(function: str) -> dict:
    return RESOURCES[f"{function}EdgeUser"]


def principals() -> dict:
    """Every role and user in the template that runs confab's code, by logical name
    (not AWS Backup's service role: see the Backups tests)."""
    return {n: r for n, r in RESOURCES.items()
            if r["Type"] in ("AWS::IAM::Role", "AWS::IAM::User") and n != "BackupRole"}


def rust(path: str) -> str:
    return (ROOT / path).read_text()


def sdk_operations(path: str) -> set:
    return set(re.findall(r"client\s*\.\s*([a-z_0-9]+)\(\)", rust(path)))


TABLE = "GetAtt(Table.Arn)"
INDEX = "Sub(${Table.Arn}/index/gsi1)"
SECRET = "secretsmanager:GetSecretValue"
OIDC_SECRETS = "Sub(arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:confab/${Environment}/confab-oidc-*)"
LIST_CONDITION = json.dumps({"StringLike": {"s3:prefix": ["users/*", "exports/*"]}}, sort_keys=True)

# SDK operations the functions call → the IAM actions they need. Table setup
# (create_table, TTL, waiters) and bucket creation only run in tests and first-time setup.
DYNAMODB_ACTIONS = {
    "get_item": {"dynamodb:GetItem"},
    "update_item": {"dynamodb:UpdateItem"},
    "delete_item": {"dynamodb:DeleteItem"},
    "query": {"dynamodb:Query"},
    # Authorized per entry; the adapter builds Update, Delete and ConditionCheck entries.
    "transact_write_items": {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"},
}
DYNAMODB_SETUP = {"create_table", "update_time_to_live", "wait_until_table_exists"}
# The data tool's whole-table scan (confab-data export), run with an operator's
# credentials: no function scans, so no role may.
DYNAMODB_TOOLS = {"scan"}
S3_ACTIONS = {
    "get_object": {"s3:GetObject"},  # also what a presigned GET needs
    "put_object": {"s3:PutObject"},
    "delete_objects": {"s3:DeleteObject"},  # authorized per key
    "list_objects_v2": {"s3:ListBucket"},
}
S3_SETUP = {"create_bucket", "config"}


def log_grants(function: str) -> set:
    log_group = f"GetAtt({function}LogGroup.Arn)"
    return {("logs:CreateLogStream", log_group, None), ("logs:PutLogEvents", log_group, None)}


def expected_grants(function: str) -> set:
    """The Lambda role's grants: its log group and the function's data access."""
    return log_grants(function) | expected_data_grants(function)


# A long message's text is a session blob: whatever writes or reads messages.
MESSAGE_BLOBS = {("s3:GetObject", "Sub(${Bucket.Arn}/users/*)", None), ("s3:PutObject", "Sub(${Bucket.Arn}/users/*)", None)}


# Deleting an account deletes its blobs: the auth and admin requests start it, the
# sweep (and on the edge, the chat Worker's cron) finishes it.
ACCOUNT_BLOBS = {("s3:DeleteObject", "Sub(${Bucket.Arn}/users/*)", None),
                 ("s3:DeleteObject", "Sub(${Bucket.Arn}/exports/*)", None),
                 ("s3:ListBucket", "GetAtt(Bucket.Arn)", LIST_CONDITION)}


def table_grants() -> set:
    """Every table operation the adapter sends, and gsi1 (only ever queried)."""
    dynamodb = set().union(*(DYNAMODB_ACTIONS[op] for op in sdk_operations("shared/aws/src/dynamo.rs") - DYNAMODB_SETUP - DYNAMODB_TOOLS))
    return {(action, TABLE, None) for action in dynamodb} | {("dynamodb:Query", INDEX, None)}


def expected_data_grants(function: str) -> set:
    """What the function's code does with the data, on either runtime (the Worker's user)."""
    out = table_grants()
    out |= {(SECRET, "Ref(VerifyKeysSecret)", None)}
    if function == "Auth":
        out |= {(SECRET, "Ref(SigningKeysSecret)", None), (SECRET, "Ref(MfaKeySecret)", None),
                (SECRET, OIDC_SECRETS, None)}
    if function in ("Auth", "Admin", "Chat"):
        out |= ACCOUNT_BLOBS
    if function == "Chat":
        out |= {(SECRET, f"Ref({name})", None) for name in PROVIDER_SECRETS} | MESSAGE_BLOBS
    if function == "Session":
        for op in sdk_operations("shared/aws/src/s3.rs") - S3_SETUP:
            for action in S3_ACTIONS[op]:
                if action == "s3:ListBucket":
                    out.add((action, "GetAtt(Bucket.Arn)", LIST_CONDITION))
                else:
                    out |= {(action, "Sub(${Bucket.Arn}/users/*)", None), (action, "Sub(${Bucket.Arn}/exports/*)", None)}
    return out


class Roles(unittest.TestCase):
    def test_the_adapters_use_only_known_operations(self):
        dynamodb = sdk_operations("shared/aws/src/dynamo.rs")
        s3 = sdk_operations("shared/aws/src/s3.rs")
        self.assertLessEqual(dynamodb, set(DYNAMODB_ACTIONS) | DYNAMODB_SETUP | DYNAMODB_TOOLS,
                             "a new DynamoDB operation: grant its IAM action in the template and map it here")
        self.assertLessEqual(s3, set(S3_ACTIONS) | S3_SETUP,
                             "a new S3 operation: grant its IAM action in the template and map it here")
        self.assertEqual(sdk_operations("shared/aws/src/secrets.rs"), {"get_secret_value"})

    def test_the_http_adapters_need_nothing_more(self):
        # The Workers use confab-aws-http (raw HTTP APIs), not the SDK: every operation it
        # sends must be one the data policies grant.
        dynamo = rust("shared/aws-http/src/dynamo.rs")
        operations = set(re.findall(r'(?:call|call_store|page_request)\(\s*"(\w+)"', dynamo))
        self.assertEqual(operations, {"GetItem", "UpdateItem", "DeleteItem", "Query", "Scan", "TransactWriteItems"})
        operations -= {"Scan"}  # the port's, for the data tool; no Worker scans
        entries = set(re.findall(r'\(\s*"(Update|Delete|ConditionCheck|Put)"\s*,', dynamo))
        self.assertEqual(entries, {"Update", "Delete", "ConditionCheck"})
        granted = {a for a, _, _ in expected_data_grants("Auth")}
        needed = {f"dynamodb:{op}" for op in operations - {"TransactWriteItems"}}
        needed |= {f"dynamodb:{e}Item" for e in entries}
        self.assertLessEqual(needed, granted)
        self.assertEqual(re.findall(r'"secretsmanager\.(\w+)"', rust("shared/aws-http/src/secrets.rs")),
                         ["GetSecretValue"])
        s3 = rust("shared/aws-http/src/s3.rs")
        # GET object (and presigned GET), PUT object, POST ?delete (DeleteObject per key),
        # GET ?list-type=2 (ListBucket).
        self.assertEqual(set(re.findall(r"http::Request::(\w+)\(", s3)), {"get", "put", "post"})
        self.assertIn('"{}?delete"', s3)
        self.assertIn("?list-type=2", s3)

    def test_each_function_has_exactly_its_grants(self):
        for function in FUNCTIONS:
            with self.subTest(function=function):
                role = role_of(function)
                self.assertNotIn("PermissionsBoundary", role["Properties"])
                self.assertEqual(managed_policies(role), [f"{function}DataPolicy"])
                self.assertEqual(inline_grants(role), log_grants(function))
                self.assertEqual(grants(role), expected_grants(function))

    def test_each_edge_user_has_its_functions_data_grants_only(self):
        # Workers cannot assume roles: each signs with its own IAM user's key, and that
        # user may do exactly what the function's Lambda role may, less the Lambda's logs.
        for function in FUNCTIONS:
            with self.subTest(function=function):
                user = edge_user_of(function)
                self.assertEqual(user["Type"], "AWS::IAM::User")
                self.assertEqual(user["Condition"], "CreateEdgeUsers")
                props = user["Properties"]
                self.assertEqual(set(props) - {"Path", "Tags", "ManagedPolicyArns"}, set(),
                                 "no inline policies, groups, login profile or fixed name")
                self.assertEqual(managed_policies(user), managed_policies(role_of(function)))
                self.assertEqual(grants(user), expected_data_grants(function))
                self.assertEqual(grants(user), grants(role_of(function)) - log_grants(function))

    def test_edge_users_only_when_asked(self):
        params = TEMPLATE["Parameters"]["EdgeWorkers"]
        self.assertEqual(params["Default"], "false")
        self.assertEqual(set(params["AllowedValues"]), {"true", "false"})
        self.assertEqual(TEMPLATE["Conditions"]["CreateEdgeUsers"], {"Fn::Equals": [{"Ref": "EdgeWorkers"}, "true"]})
        users = {n for n, r in RESOURCES.items() if r["Type"] == "AWS::IAM::User"}
        self.assertEqual(users, {f"{f}EdgeUser" for f in FUNCTIONS})

    def test_no_access_keys_in_the_template(self):
        # Keys are made at deploy time (infra/deploy-edge keys) and go straight into Worker
        # secrets: never a resource, so never in outputs or the stack's state.
        for name, resource in RESOURCES.items():
            self.assertNotEqual(resource["Type"], "AWS::IAM::AccessKey", name)
        outputs = json.dumps(TEMPLATE["Outputs"])
        self.assertNotIn("SecretAccessKey", outputs)
        self.assertNotIn("AccessKey", outputs)

    def test_outputs_the_edge_deploy_reads(self):
        outputs = TEMPLATE["Outputs"]
        self.assertEqual(show(outputs["TableName"]["Value"]), "Ref(Table)")
        self.assertEqual(show(outputs["BucketName"]["Value"]), "Ref(Bucket)")
        self.assertEqual(show(outputs["SecretsPrefix"]["Value"]), "Sub(confab/${Environment}/)")
        for function in FUNCTIONS:
            with self.subTest(function=function):
                output = outputs[f"{function}EdgeUserName"]
                self.assertEqual(output["Condition"], "CreateEdgeUsers")
                self.assertEqual(show(output["Value"]), f"Ref({function}EdgeUser)")
        # What infra/deploy-edge reads from the stack (the users as <Function>EdgeUserName).
        script = (INFRA / "deploy-edge").read_text()
        for name in ("TableName", "BucketName", "SecretsPrefix", "EdgeUserName"):
            self.assertIn(name, script)

    def test_roles_are_for_lambda_only(self):
        for function in FUNCTIONS:
            with self.subTest(function=function):
                trust = role_of(function)["Properties"]["AssumeRolePolicyDocument"]["Statement"]
                self.assertEqual(trust, [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                          "Action": "sts:AssumeRole"}])

    def test_one_role_per_function(self):
        roles = [show(RESOURCES[f"{f}Function"]["Properties"]["Role"]) for f in FUNCTIONS]
        self.assertEqual(len(set(roles)), len(FUNCTIONS))

    def test_no_wildcard_actions_or_resources_in_function_roles(self):
        for function in FUNCTIONS:
            for action, resource, _ in grants(role_of(function)) | grants(edge_user_of(function)):
                self.assertNotIn("*", action)
                # Object ARNs and identity providers' secrets under a prefix are the only
                # patterns (they name the prefix).
                if "*" in resource and resource != OIDC_SECRETS:
                    self.assertRegex(resource, r"^Sub\(\$\{Bucket\.Arn\}/(users|exports)/\*\)$")

    def test_only_auth_reads_the_signing_keys(self):
        self.assertEqual(self.readers("SigningKeysSecret"), {"AuthRole", "AuthEdgeUser"})

    def test_only_auth_reads_identity_providers_secrets_and_only_theirs(self):
        readers = {name for name, principal in principals().items() if (SECRET, OIDC_SECRETS, None) in grants(principal)}
        self.assertEqual(readers, {"AuthRole", "AuthEdgeUser"})
        prefix = re.search(r'SECRET_PREFIX: &str = "([^"]+)"', rust("shared/core/src/auth/oidc/settings.rs")).group(1)
        self.assertTrue(OIDC_SECRETS.endswith(f"/{prefix}*)"), OIDC_SECRETS)

    def test_only_auth_reads_the_mfa_key(self):
        self.assertEqual(self.readers("MfaKeySecret"), {"AuthRole", "AuthEdgeUser"})

    def test_only_chat_reads_provider_keys(self):
        for secret in PROVIDER_SECRETS:
            with self.subTest(secret=secret):
                self.assertEqual(self.readers(secret), {"ChatRole", "ChatEdgeUser"})
        for principal in ("AdminRole", "AdminEdgeUser"):
            admin = {resource for _, resource, _ in grants(RESOURCES[principal])}
            self.assertFalse(admin & {f"Ref({s})" for s in PROVIDER_SECRETS}, "admin must not read provider keys")

    def test_every_function_reads_the_verification_keys(self):
        self.assertEqual(self.readers("VerifyKeysSecret"),
                         {f"{f}Role" for f in FUNCTIONS} | {f"{f}EdgeUser" for f in FUNCTIONS})

    def test_policies_reach_principals_only_as_read_here(self):
        # readers() follows inline policies and ManagedPolicyArns; nothing may attach a
        # policy another way (AWS::IAM::Policy, a group, a managed policy's Roles/Users).
        for name, resource in RESOURCES.items():
            with self.subTest(resource=name):
                self.assertNotIn(resource["Type"], ("AWS::IAM::Policy", "AWS::IAM::Group",
                                                    "AWS::IAM::UserToGroupAddition"))
                if resource["Type"] == "AWS::IAM::ManagedPolicy":
                    self.assertEqual(set(resource["Properties"]) & {"Roles", "Users", "Groups"}, set())

    def readers(self, secret: str) -> set:
        """Every role or user in the template that may read the secret, by any policy."""
        return {name for name, principal in principals().items()
                if (SECRET, f"Ref({secret})", None) in grants(principal)}


class Secrets(unittest.TestCase):
    PREFIX = "confab/${Environment}/"

    def test_secret_names_are_the_prefix_and_the_apps_names(self):
        keys = rust("shared/core/src/auth/keys.rs")
        signing = re.search(r'SIGNING_KEYS_SECRET: &str = "([^"]+)"', keys).group(1)
        verify = re.search(r'VERIFY_KEYS_SECRET: &str = "([^"]+)"', keys).group(1)
        self.assertIn('format!("{SECRET_PREFIX}{kind}")', rust("shared/core/src/providers/settings.rs"))
        self.assertIn('SECRET_PREFIX: &str = "confab-provider-"', rust("shared/core/src/providers/mod.rs"))
        mfa = re.search(r'MFA_KEY_SECRET: &str = "([^"]+)"', rust("shared/core/src/auth/mfa.rs")).group(1)
        expected = {"SigningKeysSecret": signing, "VerifyKeysSecret": verify, "MfaKeySecret": mfa}
        expected |= {logical: f"confab-provider-{p}" for logical, p in zip(PROVIDER_SECRETS, PROVIDERS)}
        for logical, name in expected.items():
            with self.subTest(secret=logical):
                props = RESOURCES[logical]["Properties"]
                self.assertEqual(show(props["Name"]), f"Sub({self.PREFIX}{name})")

    def test_secrets_carry_no_value(self):
        for name, resource in RESOURCES.items():
            if resource["Type"] == "AWS::SecretsManager::Secret":
                with self.subTest(secret=name):
                    self.assertNotIn("SecretString", resource["Properties"])
                    self.assertNotIn("GenerateSecretString", resource["Properties"])


def lambda_alarms() -> list:
    """The alarms on the functions' own Lambda metrics (the others are on the EMF metrics)."""
    alarms = [r["Properties"] for r in RESOURCES.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    return [a for a in alarms if a.get("Namespace") == "AWS/Lambda"]


class Functions(unittest.TestCase):
    def test_runtime_build_and_environment(self):
        for function in FUNCTIONS:
            with self.subTest(function=function):
                resource = RESOURCES[f"{function}Function"]
                props = resource["Properties"]
                self.assertEqual(resource["Type"], "AWS::Serverless::Function")
                self.assertEqual(props["Runtime"], "provided.al2023")
                self.assertEqual(props["Architectures"], ["arm64"])
                self.assertEqual(props["Handler"], "bootstrap")
                # The package's folder: cargo lambda runs there (at the workspace root,
                # --bin would only search default-members).
                self.assertEqual(props["CodeUri"], f"../functions/{function.lower()}")
                self.assertEqual(resource["Metadata"]["BuildMethod"], "rust-cargolambda")
                binary = resource["Metadata"]["BuildProperties"]["Binary"]
                self.assertEqual(binary, f"confab-{function.lower()}")
                cargo = (ROOT / "functions" / function.lower() / "Cargo.toml").read_text()
                self.assertIn(f'name = "{binary}"', cargo)
                env = {k: show(v) for k, v in props["Environment"]["Variables"].items()}
                self.assertEqual(env["CONFAB_TABLE"], "Ref(Table)")
                self.assertEqual(env["CONFAB_BUCKET"], "Ref(Bucket)")
                self.assertEqual(env["CONFAB_SECRETS_PREFIX"], "Sub(confab/${Environment}/)")
                self.assertEqual(env["CONFAB_CORS_ORIGINS"], "Ref(CorsOrigins)")
                self.assertEqual(env["RUST_LOG"], "Ref(RustLog)")

    def test_function_urls_take_only_signed_requests(self):
        for function in FUNCTIONS:
            with self.subTest(function=function):
                url = RESOURCES[f"{function}Function"]["Properties"]["FunctionUrlConfig"]
                self.assertEqual(url["AuthType"], "AWS_IAM")
                self.assertEqual(url["InvokeMode"], "RESPONSE_STREAM" if function == "Chat" else "BUFFERED")
                self.assertNotIn("Cors", url)  # the app answers CORS itself

    def test_generated_urls_and_permissions(self):
        out = transformed()["Resources"]
        urls = {n: r for n, r in out.items() if r["Type"] == "AWS::Lambda::Url"}
        self.assertEqual(set(urls), {f"{f}FunctionUrl" for f in FUNCTIONS})
        for url in urls.values():
            self.assertEqual(url["Properties"]["AuthType"], "AWS_IAM")
        distribution = "Sub(arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${Distribution})"
        permissions = [r["Properties"] for r in out.values() if r["Type"] == "AWS::Lambda::Permission"]
        for function in FUNCTIONS:
            with self.subTest(function=function):
                mine = [p for p in permissions if show(p["FunctionName"]) == f"Ref({function}Function)"]
                self.assertEqual(len(mine), 2, mine)
                for p in mine:
                    self.assertEqual(p["Principal"], "cloudfront.amazonaws.com")
                    self.assertEqual(show(p["SourceArn"]), distribution)
                url_perm = [p for p in mine if p["Action"] == "lambda:InvokeFunctionUrl"]
                invoke = [p for p in mine if p["Action"] == "lambda:InvokeFunction"]
                self.assertEqual(len(url_perm), 1)
                self.assertEqual(url_perm[0]["FunctionUrlAuthType"], "AWS_IAM")
                self.assertEqual(len(invoke), 1)
                self.assertIs(invoke[0]["InvokedViaFunctionUrl"], True)
        # Nothing else may invoke anything (the sweep's schedule invokes through a role).
        self.assertEqual(len(permissions), 2 * len(FUNCTIONS))

    def test_the_transformed_template_lints_clean(self):
        from cfnlint.api import lint

        matches = lint(json.dumps(transformed()), regions=["us-east-1"])
        self.assertEqual([str(m) for m in matches], [])

    def test_every_function_logs_to_its_group_with_retention(self):
        for function in FUNCTIONS:
            with self.subTest(function=function):
                props = RESOURCES[f"{function}Function"]["Properties"]
                self.assertEqual(show(props["LoggingConfig"]["LogGroup"]), f"Ref({function}LogGroup)")
                group = RESOURCES[f"{function}LogGroup"]
                self.assertEqual(group["Type"], "AWS::Logs::LogGroup")
                self.assertEqual(show(group["Properties"]["RetentionInDays"]), "Ref(LogRetentionDays)")

    def test_alarms_per_function(self):
        alarms = lambda_alarms()
        for function in FUNCTIONS:
            mine = {a["MetricName"]: a for a in alarms
                    if [show(d["Value"]) for d in a["Dimensions"]] == [f"Ref({function}Function)"]}
            with self.subTest(function=function):
                self.assertEqual(set(mine), {"Errors", "Throttles", "Duration"})
                self.assertEqual(mine["Duration"]["ExtendedStatistic"], "p99")


def metric_families() -> dict:
    """Each metric's name and its EMF dimension sets, from the Rust source."""
    source = (ROOT / "shared/core/src/metrics/families.rs").read_text()
    families = {}
    for block in re.findall(r"Family \{(.*?)\n\};", source, re.S):
        name = re.search(r'name: "(\w+)"', block).group(1)
        sets = re.search(r"dimensions: &\[(.*)\],", block).group(1)
        families[name] = {tuple(re.findall(r'"(\w+)"', s)) for s in re.findall(r"&\[(.*?)\]", sets)}
    return families


FAMILIES = metric_families()
NAMESPACE = "Sub(confab/${Environment})"


def dashboard() -> dict:
    body = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    return json.loads(body.replace("${Environment}", "dev").replace("${AWS::Region}", "us-east-1"))


class Metrics(unittest.TestCase):
    """The EMF metrics the functions log: their namespace, the dashboard and the alarms."""

    def test_the_families_are_read(self):
        self.assertIn("confab_http_requests_total", FAMILIES)
        self.assertEqual(FAMILIES["confab_time_to_first_token_seconds"], {(), ("model", "provider")})

    def test_every_function_logs_to_the_environments_namespace(self):
        lambda_source = (ROOT / "shared/lambda/src/lib.rs").read_text()
        self.assertIn('"CONFAB_METRICS_NAMESPACE"', lambda_source)
        for function in FUNCTIONS:
            with self.subTest(function=function):
                env = RESOURCES[f"{function}Function"]["Properties"]["Environment"]["Variables"]
                self.assertEqual(show(env["CONFAB_METRICS_NAMESPACE"]), NAMESPACE)

    def test_the_dashboard_graphs_only_what_the_functions_log(self):
        widgets = dashboard()["widgets"]
        seen = set()
        for widget in widgets:
            for row in widget["properties"]["metrics"]:
                for item in row:
                    if isinstance(item, dict) and "expression" in item:
                        for dims, name in re.findall(r"\{confab/dev,([\w,]+)\} MetricName=\"(\w+)\"", item["expression"]):
                            self.assertIn(tuple(dims.split(",")), FAMILIES[name], f"{name} by {dims}")
                            seen.add(name)
                if isinstance(row[0], str):
                    self.assertEqual(row[0], "confab/dev")
                    self.assertIn((), FAMILIES[row[1]], f"{row[1]} with no dimensions")
                    seen.add(row[1])
        wanted = {"confab_http_requests_total", "confab_http_errors_total", "confab_time_to_first_token_seconds",
                  "confab_input_tokens_total", "confab_output_tokens_total", "confab_provider_errors_total"}
        self.assertLessEqual(wanted, seen)
        ttft = [w["properties"] for w in widgets if w["properties"]["title"].startswith("Time to first token, every")]
        self.assertEqual({m[2]["stat"] for m in ttft[0]["metrics"]}, {"p50", "p99"})
        by_model = " ".join(json.dumps(w) for w in widgets if "by model and provider" in w["properties"]["title"])
        for name in ["confab_time_to_first_token_seconds", "confab_input_tokens_total",
                     "confab_output_tokens_total", "confab_provider_errors_total"]:
            self.assertIn(name, by_model)

    def test_alarms_on_provider_error_rate_and_ttft_p99(self):
        rate = RESOURCES["ProviderErrorRateAlarm"]["Properties"]
        stats = {m["Id"]: m["MetricStat"]["Metric"] for m in rate["Metrics"] if "MetricStat" in m}
        self.assertEqual({i: m["MetricName"] for i, m in stats.items()},
                         {"errors": "confab_provider_errors_total", "attempts": "confab_provider_attempts_total"})
        for metric in stats.values():
            self.assertEqual(show(metric["Namespace"]), NAMESPACE)
            self.assertNotIn("Dimensions", metric)  # the no-dimension set every model adds to
            self.assertIn((), FAMILIES[metric["MetricName"]])
        self.assertEqual([m["Expression"] for m in rate["Metrics"] if m.get("ReturnData")],
                         ["FILL(errors, 0) / attempts"])
        self.assertEqual(show(rate["Threshold"]), "Ref(ProviderErrorRateThreshold)")
        ttft = RESOURCES["TtftP99Alarm"]["Properties"]
        self.assertEqual((show(ttft["Namespace"]), ttft["MetricName"], ttft["ExtendedStatistic"]),
                         (NAMESPACE, "confab_time_to_first_token_seconds", "p99"))
        self.assertEqual(show(ttft["Threshold"]), "Ref(TtftP99AlarmSeconds)")
        for alarm in (rate, ttft):
            self.assertEqual(alarm["TreatMissingData"], "notBreaching")
            self.assertIn("AlarmActions", alarm)


class Sweep(unittest.TestCase):
    """The stream-lease sweep: a Lambda without a URL that a schedule runs every minute."""

    def test_build_and_environment(self):
        resource = RESOURCES["SweepFunction"]
        props = resource["Properties"]
        self.assertEqual((props["Runtime"], props["Architectures"], props["Handler"]),
                         ("provided.al2023", ["arm64"], "bootstrap"))
        # A second binary of the chat package, beside the chat Worker's Cron Trigger.
        self.assertEqual(props["CodeUri"], "../functions/chat")
        self.assertEqual(resource["Metadata"], {"BuildMethod": "rust-cargolambda",
                                                "BuildProperties": {"Binary": "confab-sweep"}})
        cargo = (ROOT / "functions/chat/Cargo.toml").read_text()
        self.assertIn('name = "confab-sweep"\npath = "src/sweep.rs"', cargo)
        self.assertIn("confab_lambda::run_sweep()", rust("functions/chat/src/sweep.rs"))
        env = {k: show(v) for k, v in props["Environment"]["Variables"].items()}
        self.assertEqual(env, {"CONFAB_TABLE": "Ref(Table)", "CONFAB_BUCKET": "Ref(Bucket)",
                               "CONFAB_SECRETS_PREFIX": "Sub(confab/${Environment}/)", "RUST_LOG": "Ref(RustLog)"})
        self.assertNotIn("FunctionUrlConfig", props)
        self.assertEqual(show(props["LoggingConfig"]["LogGroup"]), "Ref(SweepLogGroup)")
        self.assertEqual(show(RESOURCES["SweepLogGroup"]["Properties"]["RetentionInDays"]), "Ref(LogRetentionDays)")

    def test_runs_every_minute_and_only_on_its_schedule(self):
        events = RESOURCES["SweepFunction"]["Properties"]["Events"]
        self.assertEqual(list(events), ["EveryMinute"])
        self.assertEqual(events["EveryMinute"]["Type"], "ScheduleV2")
        self.assertEqual(events["EveryMinute"]["Properties"]["ScheduleExpression"], "rate(1 minute)")
        # What the Lambda test invokes the sweep with is what the schedule sends.
        sample = json.loads((ROOT / "events/sweep-schedule.json").read_text())
        self.assertEqual(json.loads(events["EveryMinute"]["Properties"]["Input"]), sample)
        out = transformed()["Resources"]
        schedules = [r["Properties"] for r in out.values() if r["Type"] == "AWS::Scheduler::Schedule"]
        self.assertEqual(len(schedules), 1)
        self.assertEqual(show(schedules[0]["Target"]["Arn"]), "GetAtt(SweepFunction.Arn)")
        urls = [n for n, r in out.items() if r["Type"] == "AWS::Lambda::Url" and "Sweep" in n]
        self.assertEqual(urls, [])

    def test_the_table_message_blobs_and_account_deletion_only(self):
        role = RESOURCES["SweepRole"]
        self.assertEqual(show(RESOURCES["SweepFunction"]["Properties"]["Role"]), "GetAtt(SweepRole.Arn)")
        self.assertEqual(managed_policies(role), [])
        logs = {("logs:CreateLogStream", "GetAtt(SweepLogGroup.Arn)", None),
                ("logs:PutLogEvents", "GetAtt(SweepLogGroup.Arn)", None)}
        self.assertEqual(grants(role), logs | table_grants() | MESSAGE_BLOBS | ACCOUNT_BLOBS)

    def test_alarm_on_failures(self):
        alarms = [a for a in lambda_alarms() if [show(d["Value"]) for d in a["Dimensions"]] == ["Ref(SweepFunction)"]]
        self.assertEqual([a["MetricName"] for a in alarms], ["Errors"])


class Edge(unittest.TestCase):
    """The Lambda@Edge function that lets CloudFront sign request bodies."""

    def setUp(self):
        code = RESOURCES["BodyHashFunction"]["Properties"]["InlineCode"]
        scope = {}
        exec(compile(code, "BodyHashFunction", "exec"), scope)
        self.handler = scope["handler"]

    def event(self, body):
        request = {"method": "POST", "uri": "/auth/login", "headers": {"host": [{"key": "Host", "value": "x"}]}}
        if body is not None:
            request["body"] = body
        return {"Records": [{"cf": {"request": request}}]}

    def hash_header(self, result):
        return result["headers"]["x-amz-content-sha256"][0]["value"]

    def test_hashes_the_body_bytes(self):
        raw = '{"content":"héllo"}'.encode() + bytes([0, 255])
        body = {"inputTruncated": False, "action": "read-only", "encoding": "base64",
                "data": base64.b64encode(raw).decode()}
        self.assertEqual(self.hash_header(self.handler(self.event(body), None)), hashlib.sha256(raw).hexdigest())

    def test_no_body_is_the_empty_hash(self):
        for body in (None, {"inputTruncated": False, "action": "read-only", "encoding": "base64", "data": ""}):
            result = self.handler(self.event(body), None)
            self.assertEqual(self.hash_header(result), hashlib.sha256(b"").hexdigest())
            self.assertEqual(result["headers"]["host"], [{"key": "Host", "value": "x"}])

    def test_a_body_cloudfront_cut_short_is_refused(self):
        body = {"inputTruncated": True, "action": "read-only", "encoding": "base64", "data": "aGk="}
        result = self.handler(self.event(body), None)
        self.assertEqual(result["status"], "413")
        self.assertEqual(json.loads(result["body"])["error"]["code"], "payload_too_large")

    def test_a_long_body_the_client_hashed_goes_through(self):
        # An attachment over 1 MB: the client's own hash, checked by the function URL.
        event = self.event({"inputTruncated": True, "action": "read-only", "encoding": "base64", "data": "aGk="})
        request = event["Records"][0]["cf"]["request"]
        request["headers"]["x-amz-content-sha256"] = [{"key": "x-amz-content-sha256", "value": "ab" * 32}]
        self.assertEqual(self.handler(event, None), request)

    def test_attachment_uploads_fit_a_lambda_event(self):
        env = RESOURCES["SessionFunction"]["Properties"]["Environment"]["Variables"]
        cap = int(env["CONFAB_MAX_ATTACHMENT_BYTES"])
        base64_size = (cap + 2) // 3 * 4
        self.assertLessEqual(base64_size + 256 * 1024, 6 * 1024 * 1024, "the event must leave room for headers")

    def test_edge_function_shape(self):
        props = RESOURCES["BodyHashFunction"]["Properties"]
        self.assertNotIn("Environment", props)  # Lambda@Edge refuses environment variables
        self.assertNotIn("Architectures", props)  # and arm64
        self.assertIn("AutoPublishAlias", props)  # and needs a numbered version
        self.assertLessEqual(props["Timeout"], 30)
        self.assertNotIn("Globals", TEMPLATE)  # globals would reach the edge function too


class Distribution(unittest.TestCase):
    def setUp(self):
        self.config = RESOURCES["Distribution"]["Properties"]["DistributionConfig"]
        self.origin_function = {}
        self.function_origins = [o for o in self.config["Origins"] if o["Id"] != "web"]
        for origin in self.function_origins:
            url = origin["DomainName"]["Fn::Select"][1]["Fn::Split"][1]
            self.origin_function[origin["Id"]] = re.fullmatch(r"GetAtt\((\w+)FunctionUrl\.FunctionUrl\)", show(url)).group(1)

    def behaviors(self):
        """The API's behaviors: every path pattern (the default one is the web app's)."""
        return [(b["PathPattern"], b) for b in self.config["CacheBehaviors"]]

    def test_paths_reach_the_right_function(self):
        routes = {p: self.origin_function[b["TargetOriginId"]] for p, b in self.behaviors()}
        self.assertEqual(routes, {
            "/auth/*": "Auth", "/openapi.json": "Auth",
            "/chat/*": "Chat", "/v1/*": "Chat",
            "/sessions": "Session", "/sessions/*": "Session", "/shared/*": "Session",
            "/admin/*": "Admin",
        })

    def test_routes_follow_the_apps_own_routing(self):
        # Function::for_path in the core: the CDN must route every first segment it names.
        source = rust("shared/core/src/routes/mod.rs")
        routes = {p: self.origin_function[b["TargetOriginId"]] for p, b in self.behaviors()}
        found = 0
        for line in source.splitlines():
            m = re.search(r"=> Some\(Function::(\w+)\)", line)
            if not m:
                continue
            for segment in re.findall(r'"([^"]+)"', line.split("=>")[0]):
                found += 1
                wanted = m.group(1)
                matching = [f for p, f in routes.items()
                            if p in (f"/{segment}", f"/{segment}/*")]
                self.assertTrue(matching, f"no behavior for /{segment}")
                self.assertEqual(set(matching), {wanted}, segment)
        self.assertGreaterEqual(found, 6)

    def test_every_behavior_is_uncached_signed_and_streaming_friendly(self):
        body_hash = show({"Fn::If": ["CreateBodyHash", {"Ref": "BodyHashFunction.Version"},
                                     {"Ref": "BodyHashFunctionVersionArn"}]})
        for path, b in self.behaviors():
            with self.subTest(path=path):
                self.assertEqual(b["CachePolicyId"], CACHING_DISABLED)
                self.assertEqual(b["OriginRequestPolicyId"], ALL_VIEWER_EXCEPT_HOST)
                self.assertEqual(set(b["AllowedMethods"]), ALL_METHODS)
                self.assertIn(b["ViewerProtocolPolicy"], ("https-only", "redirect-to-https"))
                self.assertIs(b["Compress"], False)
                self.assertEqual(len(b["LambdaFunctionAssociations"]), 1)
                association = b["LambdaFunctionAssociations"][0]
                self.assertEqual(association["EventType"], "origin-request")
                self.assertIs(association["IncludeBody"], True)
                self.assertEqual(show(association["LambdaFunctionARN"]), body_hash)

    def test_origins_use_origin_access_control(self):
        oac = RESOURCES["OriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
        self.assertEqual(oac["OriginAccessControlOriginType"], "lambda")
        self.assertEqual(oac["SigningBehavior"], "always")
        self.assertEqual(oac["SigningProtocol"], "sigv4")
        self.assertEqual(set(self.origin_function.values()), set(FUNCTIONS))
        for origin in self.function_origins:
            with self.subTest(origin=origin["Id"]):
                self.assertEqual(show(origin["OriginAccessControlId"]), "GetAtt(OriginAccessControl.Id)")
                custom = origin["CustomOriginConfig"]
                self.assertEqual(custom["OriginProtocolPolicy"], "https-only")
                if self.origin_function[origin["Id"]] == "Chat":
                    self.assertGreaterEqual(custom["OriginReadTimeout"], 60)

    def test_http3_and_web_acl(self):
        self.assertEqual(self.config["HttpVersion"], "http2and3")
        self.assertEqual(show(self.config["WebACLId"]),
                         show({"Fn::If": ["CreateWebAcl", {"Fn::GetAtt": ["WebAcl", "Arn"]}, {"Ref": "WebAclArn"}]}))


def webapp_csp() -> str:
    """The CSP the core gives the app (shared/core/src/webapp.rs), as one string."""
    source = rust("shared/core/src/webapp.rs")
    body = re.search(r'pub const CSP: &str = ((?:"[^"]*"\s*)+);', source.replace("\\\n", "")).group(1)
    return re.sub(r"\s+", " ", "".join(re.findall(r'"([^"]*)"', body)))


def run_cloudfront_function(code: str, event: dict) -> dict:
    """Runs a CloudFront Function's handler on one event with Node."""
    node = os.environ.get("CONFAB_NODE") or shutil.which("node")
    assert node, "node is needed to run the CloudFront Function (scripts/test puts one on PATH)"
    script = code + "\nprocess.stdout.write(JSON.stringify(handler(" + json.dumps(event) + ")));"
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=30, check=True)
    return json.loads(out.stdout)


def viewer_request(uri: str, method: str = "GET", accept: str = "text/html,*/*;q=0.8") -> dict:
    headers = {"accept": {"value": accept}} if accept else {}
    return {"version": "1.0", "context": {"eventType": "viewer-request"}, "viewer": {"ip": "192.0.2.1"},
            "request": {"method": method, "uri": uri, "querystring": {"x": {"value": "1"}}, "headers": headers,
                        "cookies": {}}}


class WebApp(unittest.TestCase):
    """The web app from S3 behind CloudFront's default behavior, answered as the local
    server answers it (shared/core/src/webapp.rs)."""

    def setUp(self):
        self.config = RESOURCES["Distribution"]["Properties"]["DistributionConfig"]
        self.default = self.config["DefaultCacheBehavior"]
        self.code = RESOURCES["WebAppFunction"]["Properties"]["FunctionCode"]

    def test_every_other_path_is_the_bucket_through_origin_access_control(self):
        web = next(o for o in self.config["Origins"] if o["Id"] == "web")
        self.assertEqual(show(web["DomainName"]), "GetAtt(WebBucket.RegionalDomainName)")
        self.assertEqual(show(web["OriginAccessControlId"]), "GetAtt(WebOriginAccessControl.Id)")
        self.assertEqual(web["S3OriginConfig"], {"OriginAccessIdentity": ""})
        oac = RESOURCES["WebOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
        self.assertEqual((oac["OriginAccessControlOriginType"], oac["SigningBehavior"]), ("s3", "always"))
        self.assertEqual(self.default["TargetOriginId"], "web")
        self.assertEqual(self.default["CachePolicyId"], CACHING_OPTIMIZED)
        self.assertEqual(set(self.default["CachedMethods"]), {"GET", "HEAD"})
        self.assertNotIn("LambdaFunctionAssociations", self.default)
        association, = self.default["FunctionAssociations"]
        self.assertEqual(association["EventType"], "viewer-request")
        self.assertEqual(show(association["FunctionARN"]), "GetAtt(WebAppFunction.FunctionMetadata.FunctionARN)")

    def test_only_cloudfront_of_this_distribution_reads_the_bucket(self):
        bucket = RESOURCES["WebBucket"]["Properties"]
        self.assertTrue(all(bucket["PublicAccessBlockConfiguration"].values()))
        statements = RESOURCES["WebBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        allows = [s for s in statements if s["Effect"] == "Allow"]
        self.assertEqual(len(allows), 1)
        allow = allows[0]
        self.assertEqual(allow["Principal"], {"Service": "cloudfront.amazonaws.com"})
        self.assertEqual(set(allow["Action"]), {"s3:GetObject", "s3:ListBucket"})
        self.assertIn("distribution/${Distribution}", show(allow["Condition"]["StringEquals"]["AWS:SourceArn"]))
        self.assertIn("DenyInsecureTransport", {s.get("Sid") for s in statements})

    def test_the_apps_own_headers(self):
        self.assertEqual(show(self.default["ResponseHeadersPolicyId"]), "Ref(WebAppHeadersPolicy)")
        security = RESOURCES["WebAppHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
        self.assertEqual(security["ContentSecurityPolicy"]["ContentSecurityPolicy"], webapp_csp())
        self.assertEqual(security["FrameOptions"]["FrameOption"], "DENY")
        self.assertEqual(security["ReferrerPolicy"]["ReferrerPolicy"], "no-referrer")
        self.assertIn("ContentTypeOptions", security)
        for header in security.values():
            self.assertIs(header["Override"], True)

    def test_pages_get_the_page_files_themselves_and_programs_a_json_404(self):
        for uri in ["/", "/c/01ARZ3NDEKTSV4RRFFQ69G5FAV", "/settings", "/share/abc", "/no/such"]:
            with self.subTest(uri=uri):
                request = run_cloudfront_function(self.code, viewer_request(uri))
                self.assertEqual((request["uri"], request["querystring"]), ("/index.html", {}))
        asset = "/assets/0123456789ab/js/main.js"
        self.assertEqual(run_cloudfront_function(self.code, viewer_request(asset, accept=""))["uri"], asset)
        for accept in ["", "application/json", "*/*"]:
            with self.subTest(accept=accept):
                answer = run_cloudfront_function(self.code, viewer_request("/settings", accept=accept))
                self.assertEqual(answer["statusCode"], 404)
                self.assertEqual(json.loads(answer["body"])["error"]["code"], "not_found")
        for method in ["POST", "PUT", "DELETE", "OPTIONS"]:
            with self.subTest(method=method):
                answer = run_cloudfront_function(self.code, viewer_request("/settings", method=method))
                self.assertEqual((answer["statusCode"], answer["headers"]["allow"]["value"]), (405, "GET, HEAD"))
        self.assertNotIn("statusCode", run_cloudfront_function(self.code, viewer_request("/", method="HEAD")))

    def test_deploy_web_names_the_stacks_bucket_output(self):
        outputs = TEMPLATE["Outputs"]
        self.assertEqual(show(outputs["WebBucketName"]["Value"]), "Ref(WebBucket)")
        self.assertIn("WebBucketName", (INFRA / "deploy-web").read_text())


class Backups(unittest.TestCase):
    """AWS Backup (Backups=true): the table and the bucket, daily, copied to another region."""

    RESOURCES = ["BackupVault", "BackupPlan", "BackupSelection", "BackupRole"]

    def test_off_unless_asked(self):
        self.assertEqual(TEMPLATE["Parameters"]["Backups"]["Default"], "false")
        self.assertEqual(TEMPLATE["Conditions"]["CreateBackups"], {"Fn::Equals": [{"Ref": "Backups"}, "true"]})
        for name in self.RESOURCES + ["BackupVaultName", "BackupRoleArn"]:
            with self.subTest(resource=name):
                where = RESOURCES if name in RESOURCES else TEMPLATE["Outputs"]
                self.assertEqual(where[name]["Condition"], "CreateBackups")

    def test_a_copy_vault_is_required(self):
        rule = TEMPLATE["Rules"]["BackupCopyWithBackups"]
        self.assertEqual(rule["RuleCondition"], {"Fn::Equals": [{"Ref": "Backups"}, "true"]})
        self.assertIn("BackupCopyVaultArn", json.dumps(rule["Assertions"]))

    def test_daily_kept_and_copied_to_the_other_region(self):
        (rule,) = RESOURCES["BackupPlan"]["Properties"]["BackupPlan"]["BackupPlanRule"]
        self.assertEqual(show(rule["TargetBackupVault"]), "Ref(BackupVault)")
        self.assertRegex(rule["ScheduleExpression"], r"^cron\(\d+ \d+ \* \* \? \*\)$")
        keep = {"DeleteAfterDays": {"Ref": "BackupRetentionDays"}}
        self.assertEqual(rule["Lifecycle"], keep)
        self.assertEqual(rule["CopyActions"], [{"DestinationBackupVaultArn": {"Ref": "BackupCopyVaultArn"},
                                                "Lifecycle": keep}])
        vault = RESOURCES["BackupVault"]
        self.assertEqual((vault["DeletionPolicy"], vault["UpdateReplacePolicy"]), ("Retain", "Retain"))

    def test_the_table_and_the_versioned_bucket_are_selected(self):
        selection = RESOURCES["BackupSelection"]["Properties"]
        self.assertEqual(show(selection["BackupPlanId"]), "Ref(BackupPlan)")
        self.assertEqual(show(selection["BackupSelection"]["IamRoleArn"]), "GetAtt(BackupRole.Arn)")
        self.assertEqual([show(r) for r in selection["BackupSelection"]["Resources"]],
                         ["GetAtt(Table.Arn)", "GetAtt(Bucket.Arn)"])
        # AWS Backup only backs up S3 buckets with versioning on.
        self.assertEqual(RESOURCES["Bucket"]["Properties"]["VersioningConfiguration"], {"Status": "Enabled"})

    def test_the_role_is_aws_backups_alone(self):
        role = RESOURCES["BackupRole"]["Properties"]
        self.assertEqual(role["AssumeRolePolicyDocument"]["Statement"],
                         [{"Effect": "Allow", "Principal": {"Service": "backup.amazonaws.com"},
                           "Action": "sts:AssumeRole"}])
        self.assertNotIn("Policies", role)
        policies = {show(arn) for arn in role["ManagedPolicyArns"]}
        prefix = "arn:${AWS::Partition}:iam::aws:policy/"
        self.assertEqual(policies, {
            f"Sub({prefix}service-role/AWSBackupServiceRolePolicyForBackup)",
            f"Sub({prefix}service-role/AWSBackupServiceRolePolicyForRestores)",
            f"Sub({prefix}AWSBackupServiceRolePolicyForS3Backup)",
            f"Sub({prefix}AWSBackupServiceRolePolicyForS3Restore)",
        })


class Waf(unittest.TestCase):
    def setUp(self):
        self.acl = RESOURCES["WebAcl"]["Properties"]
        self.rules = {r["Name"]: r for r in self.acl["Rules"]}

    def managed(self):
        return {r["Statement"]["ManagedRuleGroupStatement"]["Name"]: r
                for r in self.acl["Rules"] if "ManagedRuleGroupStatement" in r["Statement"]}

    def test_scope_and_managed_groups(self):
        self.assertEqual(self.acl["Scope"], "CLOUDFRONT")
        self.assertLessEqual({"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
                              "AWSManagedRulesAmazonIpReputationList"}, set(self.managed()))
        for rule in self.managed().values():
            self.assertEqual(rule["OverrideAction"], {"None": {}})  # enforced, not count-only

    def test_rate_rule_per_ip(self):
        rate = [r for r in self.acl["Rules"] if "RateBasedStatement" in r["Statement"]]
        self.assertEqual(len(rate), 1)
        self.assertEqual(rate[0]["Statement"]["RateBasedStatement"]["AggregateKeyType"], "IP")
        self.assertIn("Block", rate[0]["Action"])

    def test_large_chat_bodies_are_not_blocked(self):
        common = self.managed()["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
        overrides = {o["Name"]: o["ActionToUse"] for o in common["RuleActionOverrides"]}
        self.assertEqual(overrides["SizeRestrictions_BODY"], {"Count": {}})

    def test_priorities_are_unique(self):
        priorities = [r["Priority"] for r in self.acl["Rules"]]
        self.assertEqual(len(priorities), len(set(priorities)))


class Data(unittest.TestCase):
    def test_table_matches_the_adapter(self):
        table = RESOURCES["Table"]
        props = table["Properties"]
        self.assertEqual(table["DeletionPolicy"], "Retain")
        self.assertEqual(table["UpdateReplacePolicy"], "Retain")
        self.assertEqual(props["BillingMode"], "PAY_PER_REQUEST")
        self.assertEqual({(a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]},
                         {("pk", "S"), ("sk", "S"), ("gsi1pk", "S"), ("gsi1sk", "S")})
        self.assertEqual(props["KeySchema"], [{"AttributeName": "pk", "KeyType": "HASH"},
                                              {"AttributeName": "sk", "KeyType": "RANGE"}])
        self.assertEqual(props["GlobalSecondaryIndexes"], [{
            "IndexName": "gsi1",
            "KeySchema": [{"AttributeName": "gsi1pk", "KeyType": "HASH"},
                          {"AttributeName": "gsi1sk", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"},
        }])
        self.assertEqual(props["TimeToLiveSpecification"], {"AttributeName": "expires_at", "Enabled": True})
        self.assertEqual(props["PointInTimeRecoverySpecification"], {"PointInTimeRecoveryEnabled": True})
        self.assertEqual(props["SSESpecification"]["SSEEnabled"], True)
        # The attribute names both store adapters use are defined once, in confab-dynamo-json.
        adapter = rust("shared/dynamo-json/src/lib.rs")
        for name in ('"pk"', '"sk"', '"gsi1pk"', '"gsi1sk"', '"gsi1"', '"expires_at"'):
            self.assertIn(name, adapter)

    def test_bucket_is_private_encrypted_versioned(self):
        bucket = RESOURCES["Bucket"]["Properties"]
        self.assertEqual(bucket["PublicAccessBlockConfiguration"], {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True})
        self.assertEqual(bucket["OwnershipControls"], {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
        self.assertEqual(bucket["VersioningConfiguration"], {"Status": "Enabled"})
        sse = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        self.assertEqual(sse["SSEAlgorithm"], "AES256")

    def test_bucket_lifecycle(self):
        rules = RESOURCES["Bucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
        self.assertTrue(all(r["Status"] == "Enabled" for r in rules))
        exports = [r for r in rules if r.get("Prefix") == "exports/"]
        self.assertEqual([r["ExpirationInDays"] for r in exports], [1])
        self.assertIn(30, [r.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays")
                           for r in rules if "Prefix" not in r])
        self.assertTrue(any("AbortIncompleteMultipartUpload" in r for r in rules))
        # The app writes exports under exports/ and session blobs under users/.
        sessions = rust("shared/core/src/repo/sessions.rs")
        self.assertIn('format!("exports/', sessions)
        self.assertIn('format!("users/', sessions)

    def test_bucket_is_tls_only(self):
        policy = RESOURCES["BucketPolicy"]["Properties"]
        self.assertEqual(show(policy["Bucket"]), "Ref(Bucket)")
        deny = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        self.assertEqual(len(deny), 1)
        self.assertEqual(deny[0]["Condition"], {"Bool": {"aws:SecureTransport": "false"}})
        self.assertEqual(deny[0]["Principal"], "*")
        self.assertEqual({show(r) for r in deny[0]["Resource"]}, {"GetAtt(Bucket.Arn)", "Sub(${Bucket.Arn}/*)"})


if __name__ == "__main__":
    unittest.main()
