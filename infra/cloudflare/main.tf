# Zone-level security for the confab router (wrangler.toml): the WAF's managed rulesets,
# custom rules that let through only what the API serves, and per-IP rate limits. Every
# rule is scoped to the router's host names, so other sites in the zone are untouched.
#
# Rules run in this order on each request, before the router Worker:
#   http_request_firewall_custom  (waf.tf: HTTPS, methods, paths, body size)
#   http_ratelimit                (ratelimit.tf: per IP, stricter on login and register)
#   http_request_firewall_managed (waf.tf: Cloudflare Managed Ruleset, OWASP Core Ruleset)
# The router repeats the method, body-size and per-IP checks itself (CONFAB_MAX_BODY_BYTES,
# the PER_IP binding), so a request that reaches it by another way is held to the same rules.
#
# Terraform owns each phase's entry-point ruleset in the zone: rules added in the
# dashboard are replaced on the next apply (import them first: infra/README.md).

data "cloudflare_zone" "this" {
  zone_id = var.zone_id

  lifecycle {
    postcondition {
      condition     = self.account.id == var.account_id
      error_message = "zone_id does not belong to account_id: wrong account or zone in the tfvars."
    }
    postcondition {
      condition     = alltrue([for h in var.hostnames : h == self.name || endswith(h, ".${self.name}")])
      error_message = "every host name must be in the zone (the zone's name or a subdomain of it)."
    }
  }
}
