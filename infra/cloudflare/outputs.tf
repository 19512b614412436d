output "zone_name" {
  description = "The zone the rules are deployed in."
  value       = data.cloudflare_zone.this.name
}

output "hostnames" {
  description = "The host names the rules protect (the router's custom domains)."
  value       = var.hostnames
}

output "custom_ruleset_id" {
  description = "The zone's http_request_firewall_custom entry-point ruleset."
  value       = cloudflare_ruleset.custom.id
}

output "managed_ruleset_id" {
  description = "The zone's http_request_firewall_managed entry-point ruleset."
  value       = cloudflare_ruleset.managed.id
}

output "ratelimit_ruleset_id" {
  description = "The zone's http_ratelimit entry-point ruleset."
  value       = cloudflare_ruleset.ratelimit.id
}

output "expressions" {
  description = "The rule expressions as sent to Cloudflare, for review."
  value = {
    api_path       = local.api_path
    method_allowed = local.method_allowed
    body_too_large = local.body_too_large
    auth_sensitive = local.auth_sensitive
  }
}
