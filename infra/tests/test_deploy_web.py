"""infra/deploy-web against a stand-in for `aws` that records what it is asked: the
hashed files go up cached for a year, index.html after them revalidated, then
CloudFront drops its copy of index.html. Run by infra/check, offline."""

import json
import os
import re
import subprocess
import tempfile
import unittest
from pathlib import Path

from test_wrangler import executable

INFRA = Path(__file__).resolve().parent.parent

FAKE_AWS = r'''#!/usr/bin/env python3
import json, os, re, sys
args = sys.argv[1:]
with open(os.environ["LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
if args[:2] == ["cloudformation", "describe-stacks"]:
    assert args[args.index("--stack-name") + 1] == "confab-prod", args
    key = re.search(r"OutputKey=='(\w+)'", args[args.index("--query") + 1]).group(1)
    print(json.loads(os.environ["OUTPUTS"]).get(key, "None"))
elif args[0] not in ("s3", "cloudfront"):
    sys.exit(f"fake aws: unexpected {args}")
'''


class DeployWeb(unittest.TestCase):
    def run_script(self, *args, outputs=None):
        with tempfile.TemporaryDirectory() as work:
            work = Path(work)
            (work / "bin").mkdir()
            executable(work / "bin" / "aws", FAKE_AWS)
            dist = work / "dist"
            (dist / "assets" / "0123456789ab" / "js").mkdir(parents=True)
            (dist / "index.html").write_text("<script src=/assets/0123456789ab/js/main.js></script>")
            (dist / "assets" / "0123456789ab" / "js" / "main.js").write_text("")
            outputs = {"WebBucketName": "confab-prod-web-1", "DistributionId": "E123"} if outputs is None else outputs
            env = {"PATH": f"{work / 'bin'}:{os.environ['PATH']}", "HOME": str(work), "LOG": str(work / "log"),
                   "OUTPUTS": json.dumps(outputs), "CONFAB_WEB_DIST": str(dist), "AWS_REGION": "eu-west-1"}
            result = subprocess.run([str(INFRA / "deploy-web"), *args], capture_output=True, text=True, env=env,
                                    timeout=60)
            log = [json.loads(line) for line in (work / "log").read_text().splitlines()] if (work / "log").exists() else []
            return result, [a for a in log if a[0] != "cloudformation"], str(dist)

    def test_assets_first_then_the_page_then_the_invalidation(self):
        result, calls, dist = self.run_script("prod")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual([c[:2] for c in calls], [["s3", "cp"], ["s3", "cp"], ["cloudfront", "create-invalidation"]])
        assets, page, invalidation = calls
        self.assertEqual(assets[assets.index("--recursive") + 1:][:2], [f"{dist}/assets", "s3://confab-prod-web-1/assets"])
        self.assertEqual(assets[assets.index("--cache-control") + 1], "public, max-age=31536000, immutable")
        self.assertEqual(page[page.index("--cache-control") + 1], "no-cache")
        self.assertIn("s3://confab-prod-web-1/index.html", page)
        self.assertEqual(invalidation[invalidation.index("--paths") + 1], "/index.html")
        self.assertEqual(invalidation[invalidation.index("--distribution-id") + 1], "E123")
        for call in calls[:2]:
            self.assertEqual(call[call.index("--region") + 1], "eu-west-1")
            self.assertNotIn("--delete", call)  # pages loaded before the deploy keep their files

    def test_a_stack_without_the_bucket_uploads_nothing(self):
        result, calls, _ = self.run_script("production", outputs={"DistributionId": "E123"})
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("WebBucketName", result.stderr)
        self.assertEqual(calls, [])

    def test_unknown_environment(self):
        result, calls, _ = self.run_script("qa")
        self.assertNotEqual(result.returncode, 0)
        self.assertTrue(re.search(r"unknown environment 'qa'", result.stderr))
        self.assertEqual(calls, [])


if __name__ == "__main__":
    unittest.main()
