/**
 * The contract of Fly's Machines API for the operations the fake (./fly.ts) serves, as zod schemas written for this
 * project. Field names and types follow Fly's OpenAPI document (superfly/docs `machines-api/openapi.json`, commit
 * 1e411826, published at https://docs.machines.dev), operation names its operationIds. Fly's spec sets no
 * additionalProperties on these objects and its Go decoder drops unknown fields silently, so every object here is
 * strict: a misspelt field (`app_name` for `name`) is refused instead of ignored. Objects the spec leaves open
 * (string maps, `details`, an event's `request`) stay open. fly.MachineConfig lists only the properties our
 * providers send or Fly fills in; the rest of Fly's (services, processes, dns, containers, ...) are left out on
 * purpose, so sending one fails here until it is modelled.
 *
 * Where the OpenAPI document and what Fly answers disagree, this follows Fly's own clients (fly-go, flyctl) and the
 * example answers in Fly's docs (superfly/docs machines/api/*, reference/machines/*), each noted at its schema: the
 * lease answers (fly-go MachineLease), nullable attachment ids (Volumes resource examples), `?wait=` on app create
 * and `?ttl=` on lease create (fly-go flaps), `?version=` on the secrets list (fly-go ListAppSecrets), `force` on
 * app delete (Apps resource). test/fly-conformance.test.ts feeds the docs' examples through these schemas.
 */
import { z } from "zod";

const int = z.int();
const strings = z.array(z.string());
const stringMap = z.record(z.string(), z.string());
const signal = z.enum(["SIGHUP", "SIGINT", "SIGQUIT", "SIGKILL", "SIGUSR1", "SIGUSR2", "SIGTERM"]);
const hostStatus = z.enum(["ok", "unknown", "unreachable"]);
/** Query values arrive as text; the spec's boolean and integer parameters are checked as their text forms. */
const queryBoolean = z.enum(["true", "false"]);
const queryInteger = z.string().regex(/^-?\d+$/, "expected an integer");

// ---- Shared objects (components/schemas in Fly's document) -----------------------------------------------------

export const ErrorResponse = z.strictObject({
  error: z.string().optional(),
  status: z.enum(["unknown", "insufficient_capacity", "volume_placement_capacity", "name_taken"]).optional(),
  details: z.record(z.string(), z.unknown()).optional(), // deprecated, free-form in the spec
});

const MachineGuest = z.strictObject({
  cpu_kind: z.string().optional(),
  cpus: int.optional(),
  gpu_kind: z.string().optional(),
  gpus: int.optional(),
  host_dedication_id: z.string().optional(),
  kernel_args: strings.optional(),
  memory_mb: int.optional(),
  max_memory_mb: int.optional(),
  persist_rootfs: z.enum(["never", "always", "restart"]).optional(),
  required_host_features: strings.optional(),
});

// Go encodes a nil slice or map without omitempty as null: the docs' update answer has `"exec": null`, `"env": null`.
const MachineInit = z.strictObject({
  cmd: strings.nullable().optional(),
  entrypoint: strings.nullable().optional(),
  exec: strings.nullable().optional(),
  kernel_args: strings.optional(),
  swap_size_mb: int.optional(),
  tty: z.boolean().optional(),
});

const MachineMount = z.strictObject({
  volume: z.string().optional(),
  path: z.string().optional(),
  name: z.string().optional(),
  encrypted: z.boolean().optional(),
  size_gb: int.optional(),
  size_gb_limit: int.optional(),
  add_size_gb: int.optional(),
  add_size_percent: int.optional(),
  extend_threshold_percent: int.optional(),
  min_add_size_gb: int.optional(),
});

const MachineCheck = z.strictObject({
  type: z.string().optional(),
  kind: z.enum(["informational", "readiness"]).optional(),
  port: int.optional(),
  protocol: z.string().optional(),
  method: z.string().optional(),
  path: z.string().optional(),
  headers: z.array(z.strictObject({ name: z.string().optional(), values: strings.optional() })).optional(),
  interval: z.string().optional(),
  timeout: z.string().optional(),
  grace_period: z.string().optional(),
  tls_server_name: z.string().optional(),
  tls_skip_verify: z.boolean().optional(),
});

const MachineFile = z.strictObject({
  guest_path: z.string().optional(),
  raw_value: z.string().optional(),
  secret_name: z.string().optional(),
  image_config: z.string().optional(),
  mode: int.optional(),
});

/** fly.MachineConfig (only the properties we use; see the file comment). */
export const MachineConfig = z.strictObject({
  image: z.string().optional(),
  env: stringMap.nullable().optional(),
  metadata: stringMap.nullable().optional(),
  dns: z.record(z.string(), z.unknown()).optional(), // fly-go MachineConfig.DNS; `"dns": {}` in the docs' create answer
  guest: MachineGuest.optional(),
  init: MachineInit.optional(),
  mounts: z.array(MachineMount).optional(),
  restart: z
    // "" in the docs' update answer (a zero Go string); fly-go MachineRestartPolicy: no, on-failure, always.
    .strictObject({ policy: z.enum(["no", "always", "on-failure", ""]).optional(), max_retries: int.optional() })
    .optional(),
  stop_config: z.strictObject({ signal: signal.optional(), timeout: z.string().optional() }).optional(),
  checks: z.record(z.string(), MachineCheck).optional(),
  files: z.array(MachineFile).optional(),
  auto_destroy: z.boolean().optional(),
  schedule: z.string().optional(),
});

export const Machine = z.strictObject({
  id: z.string().optional(),
  name: z.string().optional(),
  state: z.string().optional(),
  region: z.string().optional(),
  config: MachineConfig.optional(),
  incomplete_config: MachineConfig.optional(),
  instance_id: z.string().optional(),
  version: z.string().optional(),
  private_ip: z.string().optional(),
  created_at: z.string().optional(),
  updated_at: z.string().optional(),
  nonce: z.string().optional(),
  cordoned: z.boolean().optional(),
  host_status: hostStatus.optional(),
  host_features: strings.optional(),
  image_ref: z
    .strictObject({
      registry: z.string().optional(),
      repository: z.string().optional(),
      tag: z.string().optional(),
      digest: z.string().optional(),
      labels: stringMap.optional(),
    })
    .optional(),
  lease: z // StrippedLease: no nonce
    .strictObject({ owner: z.string().optional(), description: z.string().optional(), expires_at: int.optional() })
    .optional(),
  checks: z
    .array(
      z.strictObject({
        name: z.string().optional(),
        status: z.string().optional(),
        output: z.string().optional(),
        updated_at: z.string().optional(),
      }),
    )
    .optional(),
  events: z
    .array(
      z.strictObject({
        id: z.string().optional(),
        type: z.string().optional(),
        status: z.string().optional(),
        source: z.string().optional(),
        timestamp: int.optional(),
        request: z.record(z.string(), z.unknown()).optional(),
      }),
    )
    .optional(),
});

export const Volume = z.strictObject({
  id: z.string().optional(),
  name: z.string().optional(),
  state: z.string().optional(),
  region: z.string().optional(),
  zone: z.string().optional(),
  size_gb: int.optional(),
  encrypted: z.boolean().optional(),
  fstype: z.string().optional(),
  type: z.enum(["local", "cache"]).optional(),
  snapshot_retention: int.optional(),
  auto_backup_enabled: z.boolean().optional(),
  attached_machine_id: z.string().nullable().optional(), // null in the docs' examples (fly-go *string)
  attached_alloc_id: z.string().nullable().optional(),
  host_dedication_key: z.string().optional(), // in the docs' examples, not in the OpenAPI document
  host_dedication_id: z.string().optional(), // fly-go Volume.HostDedicationID
  created_at: z.string().optional(),
  host_status: hostStatus.optional(),
  host_features: strings.optional(),
  required_host_features: strings.optional(),
  block_size: int.optional(),
  blocks: int.optional(),
  blocks_avail: int.optional(),
  blocks_free: int.optional(),
  bytes_total: int.optional(),
  bytes_used: int.optional(),
});

const AppSecret = z.strictObject({
  name: z.string().optional(),
  digest: z.string().optional(),
  value: z.string().optional(),
  created_at: z.string().optional(),
  updated_at: z.string().optional(),
});

/** CreateMachineRequest and UpdateMachineRequest share their fields; update adds current_version. */
const machineRequest = {
  name: z.string().optional(),
  region: z.string().optional(),
  config: MachineConfig.optional(),
  lease_ttl: int.optional(),
  min_secrets_version: int.optional(),
  skip_launch: z.boolean().optional(),
  skip_secrets: z.boolean().optional(),
  skip_service_registration: z.boolean().optional(),
};

// ---- Operations ---------------------------------------------------------------------------------------------

export interface Operation {
  /** Fly's operationId. */
  id: string;
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** Below /v1, with {placeholders} for path parameters. */
  path: string;
  /** The query parameters the spec names (any other is refused). */
  query?: z.ZodType;
  /** Headers the spec requires (others pass). */
  headers?: z.ZodType;
  /** The JSON body, and whether the spec requires one. */
  body?: { schema: z.ZodType; required: boolean };
  /** Documented statuses: their body's schema, or null for no body. Other errors carry ErrorResponse. */
  responses: Record<number, z.ZodType | null>;
}

const nonceHeader = z.object({ "fly-machine-lease-nonce": z.string() });

/**
 * fly-go `MachineLease{Status, Data *MachineLeaseData{Nonce, ExpiresAt, Owner, Version}, Message, Code}` and the
 * docs' example (which adds `description`): the nonce is under `data`. The OpenAPI document's flat `nonce` is not
 * what Fly answers.
 */
const MachineLease = z.strictObject({
  status: z.string().optional(),
  data: z
    .strictObject({
      nonce: z.string().optional(),
      expires_at: int.optional(),
      owner: z.string().optional(),
      description: z.string().optional(),
      version: z.string().optional(),
    })
    .nullable()
    .optional(),
  message: z.string().optional(),
  code: z.string().optional(),
});

export const OPERATIONS: Operation[] = [
  // Machines API: Apps resource, Create a Fly App (POST /apps)
  {
    id: "Apps_create",
    method: "POST",
    path: "/apps",
    query: z.strictObject({ wait: queryBoolean.optional() }), // fly-go CreateApp: POST /apps?wait=true
    body: {
      required: true,
      schema: z.strictObject({
        name: z.string().optional(), // fly-go CreateAppRequest.Name
        app_name: z.string().optional(), // the docs' example (Apps resource: Create a Fly App)
        org_slug: z.string().optional(),
        network: z.string().optional(),
        app_role_id: z.string().optional(), // fly-go CreateAppRequest.AppRoleID
        enable_subdomains: z.boolean().optional(),
        idempotency_key: z.string().optional(),
      }),
    },
    responses: {
      201: z.strictObject({ id: z.string().optional(), created_at: int.optional() }),
      400: ErrorResponse,
      422: ErrorResponse,
    },
  },
  // Machines API: Apps resource, Get app details (GET /apps/{app_name})
  {
    id: "Apps_show",
    method: "GET",
    path: "/apps/{app_name}",
    responses: {
      200: z.strictObject({
        id: z.string().optional(),
        name: z.string().optional(),
        status: z.string().optional(),
        network: z.string().optional(),
        network_cidr: z.string().optional(),
        internal_numeric_id: int.optional(),
        machine_count: int.optional(),
        volume_count: int.optional(),
        organization: z
          .strictObject({
            name: z.string().optional(),
            slug: z.string().optional(),
            internal_numeric_id: int.optional(),
          })
          .optional(),
      }),
    },
  },
  // Machines API: Apps resource, Delete a Fly App (DELETE /apps/{app_name})
  {
    id: "Apps_delete",
    method: "DELETE",
    path: "/apps/{app_name}",
    query: z.strictObject({ force: queryBoolean.optional() }), // docs: "Stop all Machines and delete the app immediately"
    responses: { 202: null },
  },
  // Machines API: Machines resource, List Machines (GET /apps/{app_name}/machines)
  {
    id: "Machines_list",
    method: "GET",
    path: "/apps/{app_name}/machines",
    query: z.strictObject({ include_deleted: queryBoolean.optional(), region: z.string().optional() }),
    responses: { 200: z.array(Machine) },
  },
  // Machines API: Machines resource, Create a Machine (POST /apps/{app_name}/machines)
  {
    id: "Machines_create",
    method: "POST",
    path: "/apps/{app_name}/machines",
    body: { required: true, schema: z.strictObject(machineRequest) },
    responses: { 200: Machine },
  },
  // Machines API: Machines resource, Get a Machine (GET /apps/{app_name}/machines/{machine_id})
  { id: "Machines_show", method: "GET", path: "/apps/{app_name}/machines/{machine_id}", responses: { 200: Machine } },
  // Machines API: Machines resource, Update a Machine (POST /apps/{app_name}/machines/{machine_id})
  {
    id: "Machines_update",
    method: "POST",
    path: "/apps/{app_name}/machines/{machine_id}",
    body: { required: true, schema: z.strictObject({ ...machineRequest, current_version: z.string().optional() }) },
    responses: { 200: Machine, 400: ErrorResponse, 409: ErrorResponse },
  },
  // Machines API: Machines resource, Delete a Machine permanently (DELETE /apps/{app_name}/machines/{machine_id})
  {
    id: "Machines_delete",
    method: "DELETE",
    path: "/apps/{app_name}/machines/{machine_id}",
    query: z.strictObject({ force: queryBoolean.optional(), kill: queryBoolean.optional() }), // fly-go Destroy: ?kill=
    responses: { 200: null },
  },
  // Machines API: Machines resource, Create a Machine lease (POST /apps/{app_name}/machines/{machine_id}/lease)
  {
    id: "Machines_create_lease",
    method: "POST",
    path: "/apps/{app_name}/machines/{machine_id}/lease",
    query: z.strictObject({ ttl: queryInteger.optional() }), // fly-go AcquireLease / RefreshLease: ?ttl=
    body: {
      required: false, // fly-go sends none; the docs' example sends both fields
      schema: z.strictObject({ description: z.string().optional(), ttl: int.optional() }), // ttl in seconds
    },
    responses: { 200: MachineLease, 201: MachineLease },
  },
  // Machines API: Machines resource, Get a Machine lease (GET /apps/{app_name}/machines/{machine_id}/lease)
  {
    id: "Machines_show_lease",
    method: "GET",
    path: "/apps/{app_name}/machines/{machine_id}/lease",
    responses: { 200: MachineLease },
  },
  // Machines API: Machines resource, Release a Machine lease (DELETE /apps/{app_name}/machines/{machine_id}/lease)
  {
    id: "Machines_release_lease",
    method: "DELETE",
    path: "/apps/{app_name}/machines/{machine_id}/lease",
    headers: nonceHeader,
    // The docs' example: {"status": "success", "data": {"ok": true}}.
    responses: {
      200: z
        .strictObject({
          status: z.string().optional(),
          data: z.strictObject({ ok: z.boolean().optional() }).optional(),
        })
        .nullable(),
    },
  },
  // Machines API: Machines resource, Start a Machine (POST /apps/{app_name}/machines/{machine_id}/start)
  {
    id: "Machines_start",
    method: "POST",
    path: "/apps/{app_name}/machines/{machine_id}/start",
    responses: { 200: null },
  },
  // Machines API: Machines resource, Stop a Machine (POST /apps/{app_name}/machines/{machine_id}/stop)
  {
    id: "Machines_stop",
    method: "POST",
    path: "/apps/{app_name}/machines/{machine_id}/stop",
    body: { required: false, schema: z.strictObject({ signal: signal.optional(), timeout: z.string().optional() }) },
    responses: { 200: null, 400: ErrorResponse },
  },
  // Machines API: Machines resource, Wait for a Machine to reach a specified state (GET .../{machine_id}/wait)
  {
    id: "Machines_wait",
    method: "GET",
    path: "/apps/{app_name}/machines/{machine_id}/wait",
    query: z.strictObject({
      version: z.string().optional(),
      instance_id: z.string().optional(),
      from_event_id: z.string().optional(),
      timeout: queryInteger.optional(),
      state: z.enum(["started", "stopped", "suspended", "destroyed", "failed", "settled"]).optional(),
    }),
    responses: {
      200: z.strictObject({
        ok: z.boolean().optional(),
        state: z.string().optional(),
        version: z.string().optional(),
        event_id: z.string().optional(),
      }),
      400: ErrorResponse,
    },
  },
  // Machines API (OpenAPI, Secrets): List App secrets (GET /apps/{app_name}/secrets)
  {
    id: "Secrets_list",
    method: "GET",
    path: "/apps/{app_name}/secrets",
    // fly-go ListAppSecrets sends `version`; the OpenAPI document names `min_version`.
    query: z.strictObject({
      version: queryInteger.optional(),
      min_version: z.string().optional(),
      show_secrets: queryBoolean.optional(),
    }),
    responses: { 200: z.strictObject({ secrets: z.array(AppSecret).optional() }) },
  },
  // Machines API (OpenAPI, Secrets): Update App secrets (POST /apps/{app_name}/secrets)
  {
    id: "Secrets_update",
    method: "POST",
    path: "/apps/{app_name}/secrets",
    body: { required: true, schema: z.strictObject({ values: stringMap.optional() }) },
    responses: {
      200: z.strictObject({
        version: int.optional(),
        Version: int.optional(), // deprecated spelling, still in the spec
        secrets: z.array(AppSecret).optional(),
      }),
      400: ErrorResponse,
    },
  },
  // Machines API (OpenAPI, Secrets): Delete App secret (DELETE /apps/{app_name}/secrets/{secret_name})
  {
    id: "Secret_delete",
    method: "DELETE",
    path: "/apps/{app_name}/secrets/{secret_name}",
    responses: { 200: z.strictObject({ version: int.optional(), Version: int.optional() }) },
  },
  // Machines API: Volumes resource, List all the volumes in an app (GET /apps/{app_name}/volumes)
  {
    id: "Volumes_list",
    method: "GET",
    path: "/apps/{app_name}/volumes",
    query: z.strictObject({ summary: queryBoolean.optional() }),
    responses: { 200: z.array(Volume) },
  },
  // Machines API: Volumes resource, Create a volume (POST /apps/{app_name}/volumes)
  {
    id: "Volumes_create",
    method: "POST",
    path: "/apps/{app_name}/volumes",
    body: {
      required: true,
      schema: z.strictObject({
        name: z.string().optional(),
        region: z.string().optional(),
        size_gb: int.optional(),
        encrypted: z.boolean().optional(),
        fstype: z.string().optional(),
        snapshot_retention: int.optional(),
        auto_backup_enabled: z.boolean().optional(),
        require_unique_zone: z.boolean().optional(),
        unique_zone_app_wide: z.boolean().optional(),
        snapshot_id: z.string().optional(),
        source_volume_id: z.string().optional(),
        compute: MachineGuest.optional(),
        compute_image: z.string().optional(),
      }),
    },
    responses: { 200: Volume },
  },
  // Machines API: Volumes resource, Get a specific volume (GET /apps/{app_name}/volumes/{volume_id})
  { id: "Volumes_get_by_id", method: "GET", path: "/apps/{app_name}/volumes/{volume_id}", responses: { 200: Volume } },
  // Machines API: Volumes resource, Update a volume (PUT /apps/{app_name}/volumes/{volume_id})
  {
    id: "Volumes_update",
    method: "PUT",
    path: "/apps/{app_name}/volumes/{volume_id}",
    body: {
      required: true,
      schema: z.strictObject({ snapshot_retention: int.optional(), auto_backup_enabled: z.boolean().optional() }),
    },
    responses: { 200: Volume, 400: ErrorResponse },
  },
  // Machines API: Volumes resource, Delete a volume permanently (DELETE /apps/{app_name}/volumes/{volume_id})
  { id: "Volume_delete", method: "DELETE", path: "/apps/{app_name}/volumes/{volume_id}", responses: { 200: Volume } },
  // Machines API: Volumes resource, Extend a volume (PUT /apps/{app_name}/volumes/{volume_id}/extend)
  {
    id: "Volumes_extend",
    method: "PUT",
    path: "/apps/{app_name}/volumes/{volume_id}/extend",
    body: { required: true, schema: z.strictObject({ size_gb: int.optional() }) },
    responses: { 200: z.strictObject({ volume: Volume.optional(), needs_restart: z.boolean().optional() }) },
  },
];

/** Matches a request to its operation; path parameters come back decoded. */
export function matchOperation(
  method: string,
  path: string,
): { operation: Operation; params: Record<string, string> } | undefined {
  for (const operation of OPERATIONS) {
    if (operation.method !== method) continue;
    const names: string[] = [];
    const pattern = operation.path.replace(/\{(\w+)\}/g, (_, name: string) => {
      names.push(name);
      return "([^/]+)";
    });
    const m = new RegExp(`^${pattern}$`).exec(path);
    if (m) return { operation, params: Object.fromEntries(names.map((n, i) => [n, decodeURIComponent(m[i + 1]!)])) };
  }
  return undefined;
}

/** Zod's issues in one line each: where, what, and which unknown keys. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `/${i.path.join("/")} ${i.message}`).join("; ");
}

/** The contract broken by a request, in words; undefined when it keeps to it. */
export function checkRequest(
  operation: Operation,
  query: Record<string, string>,
  headers: Record<string, string>,
  body: unknown,
): string | undefined {
  const problems: string[] = [];
  const check = (where: string, schema: z.ZodType, value: unknown) => {
    const r = schema.safeParse(value);
    if (!r.success) problems.push(`${where} ${describeIssues(r.error)}`);
  };
  check("query", operation.query ?? z.strictObject({}), query);
  if (operation.headers) check("header", operation.headers, headers);
  if (operation.body && (body !== undefined || operation.body.required)) check("body", operation.body.schema, body);
  return problems.length ? problems.join("; ") : undefined;
}

/** The contract broken by an answer, in words; undefined when it keeps to it. */
export function checkResponse(operation: Operation | undefined, status: number, payload: unknown): string | undefined {
  const documented = operation?.responses[status];
  if (documented === undefined && status < 400) return `undocumented status ${status}`;
  // Error statuses the document does not list for an operation (404, 408, 409, 412, 429, 5xx) carry ErrorResponse.
  const schema = documented === undefined ? ErrorResponse : documented;
  if (schema === null) return payload === undefined ? undefined : `status ${status} has no body in the spec`;
  const r = schema.safeParse(payload);
  return r.success ? undefined : describeIssues(r.error);
}
