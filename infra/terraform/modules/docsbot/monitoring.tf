# Being told when something is wrong: a budget alert on the project's spending (only with a billing account:
# creating one needs rights on that account) and an uptime check on Discord's endpoint with an alert policy.
# Both notify var.alert_emails; with no email, the budget still mails the billing account's administrators.
locals {
  interactions_host = trimprefix(local.function_base_url, "https://")
}

resource "google_monitoring_notification_channel" "email" {
  for_each = toset(var.alert_emails)

  project      = var.project_id
  display_name = "docsbot alerts: ${each.value}"
  type         = "email"
  labels = {
    email_address = each.value
  }

  depends_on = [google_project_service.apis]
}

# Budgets name projects by number, not ID.
data "google_project" "project" {
  project_id = var.project_id
}

resource "google_billing_budget" "budget" {
  count = var.billing_account_id == "" ? 0 : 1

  billing_account = var.billing_account_id
  display_name    = "${var.name_prefix} monthly budget"

  budget_filter {
    projects = ["projects/${data.google_project.project.number}"]
  }

  amount {
    specified_amount {
      units = tostring(var.monthly_budget)
    }
  }

  threshold_rules {
    threshold_percent = 0.5
  }
  threshold_rules {
    threshold_percent = 0.9
  }
  threshold_rules {
    threshold_percent = 1.0
  }

  all_updates_rule {
    monitoring_notification_channels = [for email in var.alert_emails : google_monitoring_notification_channel.email[email].id]
    disable_default_iam_recipients   = false
  }

  depends_on = [google_project_service.apis]
}

# Discord gives up on an endpoint that does not answer. A GET reaches our code without a signed request, which
# answers 405 "POST only": that proves the function is deployed, starts and serves.
resource "google_monitoring_uptime_check_config" "interactions" {
  project      = var.project_id
  display_name = "${var.name_prefix} interactions endpoint"
  timeout      = "10s"
  period       = "300s"

  http_check {
    path           = "/${var.name_prefix}-interactions"
    port           = 443
    use_ssl        = true
    validate_ssl   = true
    request_method = "GET"

    accepted_response_status_codes {
      status_value = 405
    }
  }

  content_matchers {
    content = "POST only"
    matcher = "CONTAINS_STRING"
  }

  monitored_resource {
    type = "uptime_url"
    labels = {
      project_id = var.project_id
      host       = local.interactions_host
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_monitoring_alert_policy" "interactions_down" {
  project      = var.project_id
  display_name = "${var.name_prefix}: Discord's endpoint is not answering"
  combiner     = "OR"

  conditions {
    display_name = "interactions uptime check failing"
    condition_threshold {
      filter          = "metric.type=\"monitoring.googleapis.com/uptime_check/check_passed\" AND resource.type=\"uptime_url\" AND metric.label.check_id=\"${google_monitoring_uptime_check_config.interactions.uptime_check_id}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 1
      duration        = "600s"

      aggregations {
        alignment_period     = "1200s"
        per_series_aligner   = "ALIGN_NEXT_OLDER"
        cross_series_reducer = "REDUCE_COUNT_FALSE"
        group_by_fields      = ["resource.label.*"]
      }

      trigger {
        count = 1
      }
    }
  }

  notification_channels = [for email in var.alert_emails : google_monitoring_notification_channel.email[email].id]

  documentation {
    content   = "The interactions function did not answer the uptime check from several regions: Discord's commands fail. Check its logs and the latest deploy (docs/deploy.md)."
    mime_type = "text/markdown"
  }
}
