# Rate limiting rules (phase http_ratelimit), per client IP. Two rules, the most a Pro
# zone may have; on Pro their expressions may use only the host and the path (no method).
# The stricter one comes first: a request that it blocks is not counted by the other.
resource "cloudflare_ruleset" "ratelimit" {
  zone_id     = var.zone_id
  name        = "confab ${var.environment}: rate limits"
  description = "Per-IP rate limits for the confab API, stricter on login and registration (infra/cloudflare)."
  kind        = "zone"
  phase       = "http_ratelimit"

  rules = [
    {
      ref               = "confab_auth_per_ip"
      description       = "confab: login and registration, per IP"
      expression        = "${local.hosts} and ${local.auth_sensitive}"
      action            = "block"
      action_parameters = var.json_errors ? local.error_response.rate_limited : null
      ratelimit = {
        characteristics     = local.per_ip
        period              = var.auth_rate_limit.period
        requests_per_period = var.auth_rate_limit.requests_per_period
        mitigation_timeout  = var.auth_rate_limit.mitigation_timeout
      }
      enabled = true
    },
    {
      ref               = "confab_api_per_ip"
      description       = "confab: every API request, per IP"
      expression        = local.hosts
      action            = "block"
      action_parameters = var.json_errors ? local.error_response.rate_limited : null
      ratelimit = {
        characteristics     = local.per_ip
        period              = var.rate_limit.period
        requests_per_period = var.rate_limit.requests_per_period
        mitigation_timeout  = var.rate_limit.mitigation_timeout
      }
      enabled = true
    },
  ]

  lifecycle {
    precondition {
      condition     = var.auth_rate_limit.requests_per_period / var.auth_rate_limit.period < var.rate_limit.requests_per_period / var.rate_limit.period
      error_message = "auth_rate_limit must allow fewer requests per second than rate_limit."
    }
  }
}
