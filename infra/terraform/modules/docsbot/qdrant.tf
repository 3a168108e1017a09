# The Qdrant VM: Qdrant (pinned release) on a separate persistent data disk with daily snapshots, bound to
# 127.0.0.1 only; nginx in front terminates TLS with a Let's Encrypt certificate for var.qdrant_domain.
# The API keys are read from Secret Manager by the VM at boot: they are in no template, metadata or state.
# With qdrant_external_url set (a Qdrant Cloud cluster, say), none of this file's resources are created.
locals {
  qdrant_vm_count = var.qdrant_external_url == "" ? 1 : 0

  # Google's range for IAP TCP forwarding: `gcloud compute ssh --tunnel-through-iap` is the only way in on 22.
  iap_source_range = "35.235.240.0/20"

  qdrant_url        = var.qdrant_external_url == "" ? "https://${var.qdrant_domain}:443" : var.qdrant_external_url
  qdrant_data_dir   = "/var/lib/qdrant"
  qdrant_disk_label = "qdrant-data" # the device name: /dev/disk/by-id/google-qdrant-data on the VM

  # Values of each template, by template. tests/infra/test_vm_templates.py renders the templates with these same keys.
  qdrant_config_vars = {
    data_dir = local.qdrant_data_dir
  }
  nginx_http_vars = {
    domain = var.qdrant_domain
  }
  nginx_https_vars = {
    domain = var.qdrant_domain
  }
  qdrant_tls_vars = {
    domain       = var.qdrant_domain
    acme_email   = var.acme_email
    acme_staging = var.acme_staging ? "true" : "false"
  }
  qdrant_startup_vars = {
    project_id               = var.project_id
    domain                   = var.qdrant_domain
    qdrant_version           = var.qdrant_version
    qdrant_sha256            = var.qdrant_sha256
    data_dir                 = local.qdrant_data_dir
    data_device              = local.qdrant_disk_label
    api_key_secret           = google_secret_manager_secret.secret["qdrant_api_key"].secret_id
    read_only_api_key_secret = google_secret_manager_secret.secret["qdrant_read_only_api_key"].secret_id
    qdrant_config            = templatefile("${path.module}/templates/qdrant-config.yaml.tftpl", local.qdrant_config_vars)
    nginx_http               = templatefile("${path.module}/templates/nginx-http.conf.tftpl", local.nginx_http_vars)
    nginx_https              = templatefile("${path.module}/templates/nginx-https.conf.tftpl", local.nginx_https_vars)
    tls_script               = templatefile("${path.module}/templates/qdrant-tls.sh.tftpl", local.qdrant_tls_vars)
  }
  qdrant_startup_script = templatefile("${path.module}/templates/qdrant-startup.sh.tftpl", local.qdrant_startup_vars)
}

# --- Network: a VPC of its own, so no default-network rule (such as the default network's SSH from anywhere)
# applies to the VM. Ingress is denied unless a rule below allows it.

resource "google_compute_network" "docsbot" {
  count = local.qdrant_vm_count

  name                    = "${var.name_prefix}-vpc"
  auto_create_subnetworks = false

  depends_on = [google_project_service.apis]
}

resource "google_compute_subnetwork" "docsbot" {
  count = local.qdrant_vm_count

  name                     = "${var.name_prefix}-subnet"
  region                   = var.region
  network                  = google_compute_network.docsbot[0].id
  ip_cidr_range            = var.subnet_cidr
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_10_MIN"
    flow_sampling        = 0.1
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

# HTTPS for the functions (Qdrant behind nginx) and HTTP for Let's Encrypt's HTTP-01 challenge; every other
# HTTP request is redirected to HTTPS.
resource "google_compute_firewall" "qdrant_web" {
  #checkov:skip=CKV_GCP_106:Port 80 must be open to the internet for Let's Encrypt's HTTP-01 challenge; nginx answers everything else on 80 with a redirect to HTTPS.
  count = local.qdrant_vm_count

  name        = "${var.name_prefix}-qdrant-web"
  network     = google_compute_network.docsbot[0].id
  direction   = "INGRESS"
  priority    = 1000
  description = "HTTPS to nginx (Qdrant behind TLS) and HTTP for ACME challenges and redirects."

  allow {
    protocol = "tcp"
    ports    = ["80", "443"]
  }

  source_ranges           = ["0.0.0.0/0"]
  target_service_accounts = [google_service_account.sa["qdrant"].email]
  # Not logged: every function request is a connection here; nginx logs them on the VM anyway.
}

# SSH only through Identity-Aware Proxy (and with OS Login, by IAM identity).
resource "google_compute_firewall" "qdrant_ssh_iap" {
  count = local.qdrant_vm_count

  name        = "${var.name_prefix}-qdrant-ssh-iap"
  network     = google_compute_network.docsbot[0].id
  direction   = "INGRESS"
  priority    = 1000
  description = "SSH from Google's IAP TCP forwarding range only."

  allow {
    protocol = "tcp"
    ports    = ["22"]
  }

  source_ranges           = [local.iap_source_range]
  target_service_accounts = [google_service_account.sa["qdrant"].email]

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

# Qdrant listens on 127.0.0.1 only; this explicit deny (evaluated before any allow) keeps its ports closed even
# if someone later adds a broad allow rule to the network.
resource "google_compute_firewall" "qdrant_ports_deny" {
  count = local.qdrant_vm_count

  name        = "${var.name_prefix}-qdrant-ports-deny"
  network     = google_compute_network.docsbot[0].id
  direction   = "INGRESS"
  priority    = 100
  description = "Qdrant's own REST and gRPC ports are never reachable from outside the VM."

  deny {
    protocol = "tcp"
    ports    = ["6333", "6334", "6335"]
  }

  source_ranges = ["0.0.0.0/0"]

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_address" "qdrant" {
  count = local.qdrant_vm_count

  name         = "${var.name_prefix}-qdrant"
  region       = var.region
  address_type = "EXTERNAL"
  network_tier = "PREMIUM"

  depends_on = [google_project_service.apis]
}

# --- Data disk and its snapshots ------------------------------------------------------------------------------

resource "google_compute_disk" "qdrant_data" {
  #checkov:skip=CKV_GCP_37:Encrypted at rest with Google-managed keys. A customer-supplied key would have to be handed over at every VM start and snapshot restore, so the VM could not restart unattended.
  count = local.qdrant_vm_count

  name = "${var.name_prefix}-qdrant-data"
  zone = var.zone
  type = var.qdrant_data_disk_type
  size = var.qdrant_data_disk_size_gb

  # Restoring from a snapshot (docs/deploy.md, Restoring the data disk) replaces the disk with one made from it.
  snapshot = var.qdrant_data_disk_snapshot == "" ? null : var.qdrant_data_disk_snapshot

  depends_on = [google_project_service.apis]
}

resource "google_compute_resource_policy" "qdrant_snapshots" {
  count = local.qdrant_vm_count

  name        = "${var.name_prefix}-qdrant-daily"
  region      = var.region
  description = "Daily snapshots of the Qdrant data disk."

  snapshot_schedule_policy {
    schedule {
      daily_schedule {
        days_in_cycle = 1
        start_time    = var.qdrant_snapshot_start_time
      }
    }

    retention_policy {
      max_retention_days    = var.qdrant_snapshot_retention_days
      on_source_disk_delete = "KEEP_AUTO_SNAPSHOTS" # a deleted disk can still be restored
    }

    snapshot_properties {
      storage_locations = [var.region]
      guest_flush       = false
      labels = {
        app = "docsbot"
      }
    }
  }

  depends_on = [google_project_service.apis]
}

resource "google_compute_disk_resource_policy_attachment" "qdrant_snapshots" {
  count = local.qdrant_vm_count

  name = google_compute_resource_policy.qdrant_snapshots[0].name
  disk = google_compute_disk.qdrant_data[0].name
  zone = var.zone
}

# --- The VM --------------------------------------------------------------------------------------------------

resource "google_compute_instance" "qdrant" {
  #checkov:skip=CKV_GCP_40:The VM needs a public address: the functions reach Qdrant over HTTPS on the internet, and Let's Encrypt validates the domain over HTTP. Only 80/443 (and 22 from IAP) are open.
  #checkov:skip=CKV_GCP_38:The boot disk holds no data (Qdrant's data is on the separate data disk) and is encrypted with Google-managed keys; customer-supplied keys would have to be handed to every restart.
  count = local.qdrant_vm_count

  name                      = "${var.name_prefix}-qdrant"
  zone                      = var.zone
  machine_type              = var.qdrant_machine_type
  description               = "Qdrant ${var.qdrant_version} behind nginx (TLS) for docsbot."
  allow_stopping_for_update = true
  deletion_protection       = var.deletion_protection
  can_ip_forward            = false

  boot_disk {
    auto_delete = true
    initialize_params {
      image = var.qdrant_image
      size  = var.qdrant_boot_disk_size_gb
      type  = "pd-balanced"
    }
  }

  attached_disk {
    source      = google_compute_disk.qdrant_data[0].id
    device_name = local.qdrant_disk_label
    mode        = "READ_WRITE"
  }

  network_interface {
    subnetwork = google_compute_subnetwork.docsbot[0].id

    access_config {
      nat_ip       = google_compute_address.qdrant[0].address
      network_tier = "PREMIUM"
    }
  }

  service_account {
    email  = google_service_account.sa["qdrant"].email
    scopes = ["cloud-platform"] # what it may do is decided by IAM: two secrets and writing logs
  }

  shielded_instance_config {
    enable_secure_boot          = true
    enable_vtpm                 = true
    enable_integrity_monitoring = true
  }

  # The startup script runs at every boot: it (re)installs what is missing, reads the keys, writes Qdrant's and
  # nginx's configuration and starts everything. Changing it updates the metadata in place; it takes effect at
  # the next boot (docs/deploy.md, Upgrading).
  metadata = {
    startup-script         = local.qdrant_startup_script
    enable-oslogin         = "TRUE"
    block-project-ssh-keys = "TRUE"
    serial-port-enable     = "FALSE"
  }

  labels = {
    role = "qdrant"
  }

  lifecycle {
    precondition {
      condition     = var.qdrant_domain != "" && var.acme_email != ""
      error_message = "The Qdrant VM needs qdrant_domain and acme_email (or set qdrant_external_url to use a Qdrant you run elsewhere)."
    }
  }

  depends_on = [
    google_secret_manager_secret_iam_member.reader,
    google_project_iam_member.role,
    google_compute_disk_resource_policy_attachment.qdrant_snapshots,
  ]
}

# --- DNS (optional) -----------------------------------------------------------------------------------------

resource "google_dns_record_set" "qdrant" {
  count = var.dns_managed_zone == "" ? 0 : local.qdrant_vm_count

  managed_zone = var.dns_managed_zone
  name         = "${var.qdrant_domain}."
  type         = "A"
  ttl          = 300
  rrdatas      = [google_compute_address.qdrant[0].address]
}
