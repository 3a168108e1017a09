# The Google APIs docsbot uses, enabled by Terraform. Disabling them on destroy is left off on purpose: other
# things in the project may use them too.
locals {
  services = toset([
    "artifactregistry.googleapis.com",     # the scrape image and the functions' built images
    "cloudbuild.googleapis.com",           # builds the functions (and, optionally, the scrape image)
    "cloudfunctions.googleapis.com",       # interactions, respond, ingest
    "cloudscheduler.googleapis.com",       # runs the scrape job
    "cloudtasks.googleapis.com",           # interactions -> respond
    "compute.googleapis.com",              # the Qdrant VM, its disk, snapshots, network
    "dns.googleapis.com",                  # the optional A record
    "firestore.googleapis.com",            # threads, votes, interactions
    "iam.googleapis.com",                  # service accounts
    "iap.googleapis.com",                  # SSH to the VM through Identity-Aware Proxy
    "logging.googleapis.com",              # logs of every part
    "monitoring.googleapis.com",           # the uptime check on Discord's endpoint and its alert
    "billingbudgets.googleapis.com",       # the budget alert (only created with a billing account)
    "run.googleapis.com",                  # the functions run on Cloud Run; the scrape job is a Cloud Run job
    "secretmanager.googleapis.com",        # Discord, OpenAI and Qdrant keys
    "cloudresourcemanager.googleapis.com", # project IAM bindings
  ])
}

resource "google_project_service" "apis" {
  for_each = local.services

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
