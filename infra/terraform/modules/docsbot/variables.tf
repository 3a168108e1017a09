# The module's inputs. Every variable has a description, a type and, where a wrong value would only fail late
# (mid-apply or at run time on the VM), a validation. Settings that only make sense together are one object
# with optional fields (tasks, scrape). environments/prod/main.tf shows a filled-in set.

# --- Project ------------------------------------------------------------------------------------------------

variable "project_id" {
  description = "The Google Cloud project to deploy into (its ID, not its name or number)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID: 6-30 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "region" {
  description = "Region of the functions, queue, scheduler, scrape job, Artifact Registry and the Qdrant VM's IP."
  type        = string
  default     = "us-central1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Compute region such as us-central1 or europe-west1."
  }
}

variable "zone" {
  description = "Zone of the Qdrant VM and its data disk; must be in var.region."
  type        = string
  default     = "us-central1-a"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+-[a-z]$", var.zone))
    error_message = "zone must be a Compute zone such as us-central1-a."
  }
}

variable "name_prefix" {
  description = "Prefix of every resource name (service accounts, secrets, functions, VM...). Change it to run two deployments in one project."
  type        = string
  default     = "docsbot"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,11}$", var.name_prefix))
    error_message = "name_prefix must be 3-12 lower-case letters, digits or hyphens, starting with a letter (service account IDs are at most 30 characters)."
  }
}

variable "deletion_protection" {
  description = "Protect the Firestore database, the Qdrant VM and the scrape job against deletion. Set to false and apply before `terraform destroy` (docs/deploy.md, Tearing down)."
  type        = bool
  default     = true
}

# --- Qdrant VM ----------------------------------------------------------------------------------------------

variable "qdrant_external_url" {
  description = "Leave empty to run Qdrant on the VM this configuration creates. Set to the URL of a Qdrant you run elsewhere (Qdrant Cloud, a cluster), e.g. https://xyz.cloud.qdrant.io:6333, to create no VM and point every function there (docs/deploy.md, Outgrowing one VM)."
  type        = string
  default     = ""

  validation {
    condition     = var.qdrant_external_url == "" || can(regex("^https://[^/\\s]+:[0-9]+$", var.qdrant_external_url))
    error_message = "qdrant_external_url must be empty or https://HOST:PORT (with the port: qdrant-client assumes 6333 otherwise)."
  }
}

variable "qdrant_domain" {
  description = "The DNS name the Qdrant VM answers on over HTTPS (the Let's Encrypt certificate is issued for it), e.g. qdrant.example.com. Required unless qdrant_external_url is set."
  type        = string
  default     = ""

  validation {
    condition     = var.qdrant_domain == "" || can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.qdrant_domain))
    error_message = "qdrant_domain must be a lower-case fully qualified domain name such as qdrant.example.com (no scheme, port or trailing dot)."
  }
}

variable "acme_email" {
  description = "Email address Let's Encrypt sends certificate expiry warnings to. Required unless qdrant_external_url is set."
  type        = string
  default     = ""

  validation {
    condition     = var.acme_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.acme_email))
    error_message = "acme_email must be an email address."
  }
}

variable "acme_staging" {
  description = "Use Let's Encrypt's staging CA (untrusted certificates, generous rate limits) while trying the deployment out."
  type        = bool
  default     = false
}

variable "qdrant_version" {
  description = "Qdrant release to run (a tag of github.com/qdrant/qdrant without the v). Keep it within one minor version of the qdrant-client in pyproject.toml."
  type        = string
  default     = "1.19.1"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.qdrant_version))
    error_message = "qdrant_version must be a release number such as 1.19.1."
  }
}

variable "qdrant_sha256" {
  description = "SHA-256 of that release's qdrant-x86_64-unknown-linux-musl.tar.gz; the VM refuses a download that does not match. Empty: not checked (a warning is logged). docs/deploy.md shows how to get it."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^([0-9a-f]{64})?$", var.qdrant_sha256))
    error_message = "qdrant_sha256 must be empty or 64 lower-case hex characters."
  }
}

variable "qdrant_machine_type" {
  description = "Machine type of the Qdrant VM (x86-64 only: the VM runs Qdrant's x86-64 release). e2-medium (2 vCPUs, 4 GB) holds a few hundred thousand 3072-dim chunks; see docs/deploy.md, Costs."
  type        = string
  default     = "e2-medium"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]*-[a-z0-9-]+$", var.qdrant_machine_type)) && !can(regex("^(t2a|c4a|n4a|a4x)-", var.qdrant_machine_type))
    error_message = "qdrant_machine_type must be an x86-64 machine type such as e2-medium (Arm types like t2a-* cannot run the x86-64 release)."
  }
}

variable "qdrant_image" {
  description = "Boot image of the Qdrant VM. The startup script expects Debian 12 (apt, systemd, the gcloud CLI of Google's Debian images)."
  type        = string
  default     = "debian-cloud/debian-12"
}

variable "qdrant_boot_disk_size_gb" {
  description = "Size of the VM's boot disk in GB (system, nginx, the Qdrant binary; no data)."
  type        = number
  default     = 20

  validation {
    condition     = var.qdrant_boot_disk_size_gb >= 10 && var.qdrant_boot_disk_size_gb <= 200
    error_message = "qdrant_boot_disk_size_gb must be between 10 and 200."
  }
}

variable "qdrant_data_disk_size_gb" {
  description = "Size of Qdrant's separate data disk in GB. Growing it later is an in-place change (the VM grows the file system at boot); shrinking is not possible."
  type        = number
  default     = 20

  validation {
    condition     = var.qdrant_data_disk_size_gb >= 10 && var.qdrant_data_disk_size_gb <= 4096
    error_message = "qdrant_data_disk_size_gb must be between 10 and 4096."
  }
}

variable "qdrant_data_disk_type" {
  description = "Persistent disk type of the data disk."
  type        = string
  default     = "pd-balanced"

  validation {
    condition     = contains(["pd-standard", "pd-balanced", "pd-ssd"], var.qdrant_data_disk_type)
    error_message = "qdrant_data_disk_type must be pd-standard, pd-balanced or pd-ssd."
  }
}

variable "qdrant_data_disk_snapshot" {
  description = "Empty for a new, blank data disk. The name of a snapshot to (re)create the data disk from it: changing it replaces the disk, so detach the current one first (docs/deploy.md, Restoring the data disk), and keep the value set afterwards."
  type        = string
  default     = ""

  validation {
    condition     = var.qdrant_data_disk_snapshot == "" || can(regex("^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$", var.qdrant_data_disk_snapshot))
    error_message = "qdrant_data_disk_snapshot must be empty or a snapshot name."
  }
}

variable "qdrant_snapshot_start_time" {
  description = "UTC hour (HH:00) at which the daily snapshot of the data disk starts."
  type        = string
  default     = "03:00"

  validation {
    condition     = can(regex("^([01][0-9]|2[0-3]):00$", var.qdrant_snapshot_start_time))
    error_message = "qdrant_snapshot_start_time must be a whole UTC hour such as 03:00."
  }
}

variable "qdrant_snapshot_retention_days" {
  description = "How many days daily snapshots of the data disk are kept."
  type        = number
  default     = 14

  validation {
    condition     = var.qdrant_snapshot_retention_days >= 1 && var.qdrant_snapshot_retention_days <= 365
    error_message = "qdrant_snapshot_retention_days must be between 1 and 365."
  }
}

variable "subnet_cidr" {
  description = "IPv4 range of the VPC subnet the Qdrant VM lives in (the VPC is dedicated to docsbot)."
  type        = string
  default     = "10.42.0.0/24"

  validation {
    condition     = can(cidrhost(var.subnet_cidr, 0)) && can(regex("^[0-9.]+/([0-9]|[12][0-9])$", var.subnet_cidr))
    error_message = "subnet_cidr must be an IPv4 CIDR range of at least 8 addresses, such as 10.42.0.0/24."
  }
}

variable "dns_managed_zone" {
  description = "Name (not DNS name) of a Cloud DNS managed zone in this project that holds qdrant_domain; an A record is created in it. Empty: create the record at your DNS provider yourself (output qdrant_ip)."
  type        = string
  default     = ""

  validation {
    condition     = var.dns_managed_zone == "" || can(regex("^[a-z][a-z0-9-]{0,62}$", var.dns_managed_zone))
    error_message = "dns_managed_zone must be empty or a managed zone name (lower-case letters, digits and hyphens)."
  }
}

# --- Functions ----------------------------------------------------------------------------------------------

variable "function_source_dir" {
  description = "Folder holding interactions.zip, respond.zip and ingest.zip as built by scripts/build_functions.sh; relative paths are relative to the environment's folder (where terraform runs)."
  type        = string
  default     = "../../../../dist/functions"
}

variable "python_runtime" {
  description = "Cloud Functions runtime of the three functions."
  type        = string
  default     = "python311"

  validation {
    condition     = can(regex("^python3[0-9]+$", var.python_runtime))
    error_message = "python_runtime must be a Cloud Functions Python runtime such as python311."
  }
}

variable "interactions_min_instances" {
  description = "Instances of the interactions function kept warm: Discord gives 3 seconds for the first answer, and a cold start eats into that. 0 saves money and risks an occasional \"The application did not respond\"."
  type        = number
  default     = 1

  validation {
    condition     = var.interactions_min_instances >= 0 && var.interactions_min_instances <= 10 && floor(var.interactions_min_instances) == var.interactions_min_instances
    error_message = "interactions_min_instances must be a whole number from 0 to 10."
  }
}

variable "functions_max_instances" {
  description = "Upper bound on instances of each function (a cost ceiling under abuse)."
  type        = number
  default     = 20

  validation {
    condition     = var.functions_max_instances >= 1 && var.functions_max_instances <= 1000 && floor(var.functions_max_instances) == var.functions_max_instances
    error_message = "functions_max_instances must be a whole number from 1 to 1000."
  }
}

variable "respond_memory" {
  description = "Memory of the respond function (it loads the OpenAI and Qdrant clients and the tokenizer)."
  type        = string
  default     = "1Gi"

  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi)$", var.respond_memory))
    error_message = "respond_memory must be a size such as 512Mi or 1Gi."
  }
}

variable "respond_timeout_seconds" {
  description = "Time limit of one respond attempt (searching and generating an answer); respond budgets each attempt to it, keeping 30 s to deliver."
  type        = number
  default     = 300

  validation {
    condition     = var.respond_timeout_seconds >= 60 && var.respond_timeout_seconds <= 600 && floor(var.respond_timeout_seconds) == var.respond_timeout_seconds
    error_message = "respond_timeout_seconds must be whole seconds between 60 and 600 (30 s of each attempt are kept to deliver; a Discord interaction token lives 15 minutes)."
  }
}

variable "ingest_invoker_service_accounts" {
  description = "Emails of the service accounts allowed to call the ingest function (e.g. your docs CI's). Empty: nobody can."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for email in var.ingest_invoker_service_accounts : can(regex("^[a-z0-9-]+@[a-z0-9.-]+\\.iam\\.gserviceaccount\\.com$", email))])
    error_message = "ingest_invoker_service_accounts must hold service account emails (NAME@PROJECT.iam.gserviceaccount.com)."
  }
}

# --- The bot ------------------------------------------------------------------------------------------------

variable "discord_application_id" {
  description = "The Discord application's ID (developer portal, General Information). Not a secret."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{15,25}$", var.discord_application_id))
    error_message = "discord_application_id must be the application's numeric ID."
  }
}

variable "default_collection" {
  description = "Collection answered from when a channel is not mapped to one in the collections file (empty: none)."
  type        = string
  default     = ""

  validation {
    condition     = var.default_collection == "" || can(regex("^[a-z0-9][a-z0-9_-]{0,62}$", var.default_collection))
    error_message = "default_collection must be empty or a collection name (lower-case letters, digits, - and _)."
  }
}

variable "staff_role_ids" {
  description = "Discord role IDs allowed to /solve, /close and /open any thread (besides the thread's author)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.staff_role_ids : can(regex("^[0-9]{15,25}$", id))])
    error_message = "staff_role_ids must hold numeric Discord role IDs."
  }
}

variable "allowed_guild_ids" {
  description = "The Discord servers (guild IDs) the bot answers in; any other server gets a polite refusal that costs nothing. Empty: every server the bot is added to (then turn off Public Bot in the developer portal)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.allowed_guild_ids : can(regex("^[0-9]{15,25}$", id))])
    error_message = "allowed_guild_ids must hold numeric Discord server (guild) IDs."
  }
}

variable "billing_account_id" {
  description = "The billing account paying for the project (XXXXXX-XXXXXX-XXXXXX), for the budget alert. Empty: no budget alert (creating one needs Billing Account Administrator or Costs Manager on that account)."
  type        = string
  default     = ""

  validation {
    condition     = var.billing_account_id == "" || can(regex("^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$", var.billing_account_id))
    error_message = "billing_account_id must be empty or a billing account ID like 012345-6789AB-CDEF01."
  }
}

variable "monthly_budget" {
  description = "The project's monthly budget in the billing account's currency; alerts at 50 %, 90 % and 100 % of it."
  type        = number
  default     = 50

  validation {
    condition     = var.monthly_budget >= 1 && floor(var.monthly_budget) == var.monthly_budget
    error_message = "monthly_budget must be a whole amount of at least 1."
  }
}

variable "alert_emails" {
  description = "Email addresses told when the budget thresholds are reached or Discord's endpoint stops answering."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for email in var.alert_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", email))])
    error_message = "alert_emails must hold email addresses."
  }
}

variable "user_questions_per_hour" {
  description = "Questions one user may ask per hour."
  type        = number
  default     = 20

  validation {
    condition     = var.user_questions_per_hour >= 1 && var.user_questions_per_hour <= 10000
    error_message = "user_questions_per_hour must be between 1 and 10000."
  }
}

variable "guild_questions_per_hour" {
  description = "Questions one Discord server may ask per hour (a ceiling on OpenAI spend)."
  type        = number
  default     = 300

  validation {
    condition     = var.guild_questions_per_hour >= 1 && var.guild_questions_per_hour <= 100000
    error_message = "guild_questions_per_hour must be between 1 and 100000."
  }
}

variable "embedding_model" {
  description = "OpenAI embedding model. Changing it requires re-indexing every collection (docsbot refuses to mix models)."
  type        = string
  default     = "text-embedding-3-large"
}

variable "chat_model" {
  description = "OpenAI chat model that writes the answers (\"none\": extractive answers only)."
  type        = string
  default     = "gpt-4.1-mini"
}

# --- Cloud Tasks --------------------------------------------------------------------------------------------

variable "tasks" {
  description = <<-EOT
    The Cloud Tasks queue between interactions and respond; every field is optional (default in brackets).
    max_attempts [9]: attempts to deliver one question; the user gets an apology after the last (1-100, never unlimited). With the default backoff the 9th comes about 13.5 minutes in: retries cover the interaction token's 15 minutes, so a Discord or model outage of several minutes still ends in the answer.
    min_backoff ["30s"]: wait before the first retry; with the doublings, the retries must outlast respond's 120 s work lease, so a retry after a crashed attempt finds the work free.
    max_backoff ["120s"]: longest wait between retries (the wait doubles from min_backoff up to this).
    max_doublings [3]: how many times the wait doubles before growing linearly (0-16).
    max_retry_duration ["840s"]: no retry starts later than this after the first attempt; Discord's interaction token dies after 15 minutes (at most 900s).
    max_dispatches_per_second [5]: highest rate of respond attempts (protects the OpenAI quota and Qdrant).
    max_concurrent_dispatches [20]: respond attempts running at once.
  EOT
  type = object({
    max_attempts              = optional(number, 9)
    min_backoff               = optional(string, "30s")
    max_backoff               = optional(string, "120s")
    max_doublings             = optional(number, 3)
    max_retry_duration        = optional(string, "840s")
    max_dispatches_per_second = optional(number, 5)
    max_concurrent_dispatches = optional(number, 20)
  })
  default = {}

  validation {
    condition     = var.tasks.max_attempts >= 1 && var.tasks.max_attempts <= 100 && floor(var.tasks.max_attempts) == var.tasks.max_attempts
    error_message = "tasks.max_attempts must be a whole number from 1 to 100 (never unlimited)."
  }
  validation {
    condition     = alltrue([for d in [var.tasks.min_backoff, var.tasks.max_backoff] : can(regex("^[0-9]+(\\.[0-9]+)?s$", d))])
    error_message = "tasks.min_backoff and tasks.max_backoff must be durations in seconds such as \"5s\"."
  }
  validation {
    condition     = var.tasks.max_doublings >= 0 && var.tasks.max_doublings <= 16
    error_message = "tasks.max_doublings must be between 0 and 16."
  }
  validation {
    condition     = can(regex("^[0-9]+s$", var.tasks.max_retry_duration)) && try(tonumber(trimsuffix(var.tasks.max_retry_duration, "s")) <= 900, false)
    error_message = "tasks.max_retry_duration must be whole seconds such as \"840s\", at most 900s (the interaction token's life)."
  }
  validation {
    condition     = var.tasks.max_dispatches_per_second > 0 && var.tasks.max_dispatches_per_second <= 500
    error_message = "tasks.max_dispatches_per_second must be above 0 and at most 500."
  }
  validation {
    condition     = var.tasks.max_concurrent_dispatches >= 1 && var.tasks.max_concurrent_dispatches <= 5000
    error_message = "tasks.max_concurrent_dispatches must be between 1 and 5000."
  }
}

# --- Scrape job ---------------------------------------------------------------------------------------------

variable "scrape" {
  description = <<-EOT
    The scheduled scrape job; every field is optional (default in brackets).
    task_count [1]: tasks per run; each scrapes its share of the sources (CLOUD_RUN_TASK_INDEX of CLOUD_RUN_TASK_COUNT) (1-100).
    parallelism [1]: tasks running at the same time (1-100; at most task_count is used).
    schedule ["0 4 * * *"]: when the job runs, in cron syntax (in time_zone).
    time_zone ["Etc/UTC"]: time zone of schedule (a tz database name).
    timeout ["3600s"]: time limit of one task (whole seconds, at most 86400s).
    memory ["2Gi"]: memory of one task (Chromium needs room).
  EOT
  type = object({
    task_count  = optional(number, 1)
    parallelism = optional(number, 1)
    schedule    = optional(string, "0 4 * * *")
    time_zone   = optional(string, "Etc/UTC")
    timeout     = optional(string, "3600s")
    memory      = optional(string, "2Gi")
  })
  default = {}

  validation {
    condition     = alltrue([for n in [var.scrape.task_count, var.scrape.parallelism] : n >= 1 && n <= 100 && floor(n) == n])
    error_message = "scrape.task_count and scrape.parallelism must be whole numbers from 1 to 100."
  }
  validation {
    condition     = length(split(" ", trimspace(var.scrape.schedule))) == 5
    error_message = "scrape.schedule must be a five-field cron expression such as \"0 4 * * *\"."
  }
  validation {
    condition     = can(regex("^[0-9]+s$", var.scrape.timeout)) && try(tonumber(trimsuffix(var.scrape.timeout, "s")) <= 86400, false)
    error_message = "scrape.timeout must be whole seconds such as \"3600s\", at most 86400s."
  }
  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi)$", var.scrape.memory))
    error_message = "scrape.memory must be a size such as 2Gi."
  }
}

variable "scrape_image_tag" {
  description = "Tag of the scrape-job image in this deployment's Artifact Registry repository (docs/deploy.md builds it). Use a new tag per build (the git commit): the job pins the image it was deployed with."
  type        = string
  default     = "latest"

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.scrape_image_tag))
    error_message = "scrape_image_tag must be a Docker tag (letters, digits, _ . -; at most 128 characters)."
  }
}

# --- Firestore ----------------------------------------------------------------------------------------------

variable "firestore_location" {
  description = "Location of the Firestore database: a multi-region (nam5, eur3) or a region. It cannot be changed later."
  type        = string
  default     = "nam5"

  validation {
    condition     = can(regex("^(nam5|nam7|eur3|[a-z]+-[a-z]+[0-9]+)$", var.firestore_location))
    error_message = "firestore_location must be nam5, nam7, eur3 or a region such as us-central1."
  }
}

# --- The optional gateway relay (docs/decisions/0011-forum-relay.md) ------------------------------------------

variable "enable_relay" {
  description = "Run the gateway relay: a Cloud Run service with one always-on instance that answers new forum posts and mentions without a command (needs the Message Content intent: docs/deploy.md). Off: /ask and the menus only."
  type        = bool
  default     = false
}

variable "relay_image_tag" {
  description = "Tag of the relay image in this deployment's Artifact Registry repository (docs/deploy.md builds it), used when enable_relay is true."
  type        = string
  default     = "latest"

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.relay_image_tag))
    error_message = "relay_image_tag must be a Docker tag (letters, digits, _ . -; at most 128 characters)."
  }
}

variable "digest_enabled" {
  description = "Run the weekly digest: a Cloud Run job (the scrape image) that stores finished threads' conversations and posts the top documentation gaps to a staff channel (needs the Message Content intent: docs/deploy.md)."
  type        = bool
  default     = false
}

variable "digest_channel_id" {
  description = "The staff channel the digest posts in (its id); required when digest_enabled. The bot needs View Channel, Send Messages and Attach Files there."
  type        = string
  default     = ""

  validation {
    condition     = var.digest_channel_id == "" || can(regex("^[0-9]{17,20}$", var.digest_channel_id))
    error_message = "digest_channel_id must be a Discord channel id (17 to 20 digits)."
  }
}

variable "digest_collection" {
  description = "The collection whose gaps the digest reports; required when digest_enabled."
  type        = string
  default     = ""

  validation {
    condition     = var.digest_collection == "" || can(regex("^[a-z0-9][a-z0-9_-]{0,62}$", var.digest_collection))
    error_message = "digest_collection must be a collection name (lower-case letters, digits, - or _)."
  }
}

variable "digest_schedule" {
  description = "When the digest runs (cron, in the scrape job's time zone). Default: Mondays at 09:00."
  type        = string
  default     = "0 9 * * 1"

  validation {
    condition     = length(split(" ", trimspace(var.digest_schedule))) == 5
    error_message = "digest_schedule must be a five-field cron expression."
  }
}

variable "digest_since" {
  description = "The period each digest covers, as an age: 7d, 36h, 2w."
  type        = string
  default     = "7d"

  validation {
    condition     = can(regex("^[0-9]{1,4}[dhw]$", var.digest_since))
    error_message = "digest_since must be an age such as 7d, 36h or 2w."
  }
}
