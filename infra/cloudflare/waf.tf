# The WAF: custom rules first (cheap allowlists), then the managed rulesets.

# Custom rules (phase http_request_firewall_custom): only what the API serves gets through.
# Each one answers with the app's JSON error (local.error_response) unless json_errors is off.
resource "cloudflare_ruleset" "custom" {
  zone_id     = var.zone_id
  name        = "confab ${var.environment}: custom firewall rules"
  description = "Allowlists for the confab API in front of the router Worker (infra/cloudflare)."
  kind        = "zone"
  phase       = "http_request_firewall_custom"

  rules = [
    {
      # Tokens and cookies never travel in clear text (the app also sets HSTS).
      ref               = "confab_require_https"
      description       = "confab: HTTPS only"
      expression        = "${local.hosts} and not ssl"
      action            = "block"
      action_parameters = var.json_errors ? local.error_response.https_required : null
      enabled           = true
    },
    {
      # Methods the routes answer, and CORS preflights (no TRACE, CONNECT, HEAD, WebDAV...).
      ref               = "confab_allowed_methods"
      description       = "confab: only GET, POST, PUT, PATCH, DELETE and OPTIONS"
      expression        = "${local.hosts} and not ${local.method_allowed}"
      action            = "block"
      action_parameters = var.json_errors ? local.error_response.method_not_allowed : null
      enabled           = true
    },
    {
      # Paths the router forwards to a function (Function::for_path), and the web app's
      # pages and files; programs probing /wp-login.php, /.env and the like stop here.
      ref               = "confab_api_paths_only"
      description       = "confab: only the API (/auth, /chat, /v1, /sessions, /shared, /admin, /openapi.json) and the web app"
      expression        = "${local.hosts} and not ${local.api_path} and not ${local.app_request}"
      action            = "block"
      action_parameters = var.json_errors ? local.error_response.not_found : null
      enabled           = true
    },
    {
      # The body cap (CONFAB_MAX_BODY_BYTES; CONFAB_MAX_ATTACHMENT_BYTES for attachment
      # uploads), before the body is streamed to the router.
      ref               = "confab_body_size"
      description       = "confab: request bodies up to max_body_bytes (attachments: max_attachment_bytes)"
      expression        = "${local.hosts} and ${local.body_too_large}"
      action            = "block"
      action_parameters = var.json_errors ? local.error_response.payload_too_large : null
      enabled           = true
    },
  ]
}

# Managed rulesets (phase http_request_firewall_managed), enforced (block), not log-only.
resource "cloudflare_ruleset" "managed" {
  zone_id     = var.zone_id
  name        = "confab ${var.environment}: managed WAF rulesets"
  description = "Cloudflare Managed Ruleset and OWASP Core Ruleset for the confab API (infra/cloudflare)."
  kind        = "zone"
  phase       = "http_request_firewall_managed"

  rules = [
    {
      # Cloudflare Managed Ruleset: known exploits and CVEs, few false positives.
      ref         = "confab_cloudflare_managed"
      description = "confab: Cloudflare Managed Ruleset"
      expression  = local.hosts
      action      = "execute"
      action_parameters = {
        id = local.cloudflare_managed_ruleset
      }
      enabled = true
    },
    {
      # OWASP Core Ruleset (anomaly scoring). Chat requests (/chat/..., /v1/...) are
      # prompts full of code, shell lines, SQL and URLs, and attachment uploads are files:
      # OWASP would score them as attacks, so it does not run on them, as AWS WAF only
      # counts its body rules there (infra/template.yaml). The app parses bodies as JSON
      # (files by their type) and never renders HTML.
      # Elsewhere: paranoia level 1 (PL2-PL4 off) and the Medium threshold (40), blocking.
      ref         = "confab_owasp_core"
      description = "confab: OWASP Core Ruleset, PL1, except chat requests"
      expression  = "${local.hosts} and not (starts_with(http.request.uri.path, \"/chat/\") or starts_with(http.request.uri.path, \"/v1/\") or ${local.attachment_upload})"
      action      = "execute"
      action_parameters = {
        id = local.owasp_core_ruleset
        overrides = {
          categories = [
            { category = "paranoia-level-2", enabled = false },
            { category = "paranoia-level-3", enabled = false },
            { category = "paranoia-level-4", enabled = false },
          ]
          rules = [
            {
              # 949110 "Inbound Anomaly Score Exceeded": the rule that acts on the score.
              id              = local.owasp_anomaly_rule
              action          = "block"
              score_threshold = 40
            },
          ]
        }
      }
      enabled = true
    },
  ]
}
