/**
 * Neon's own OpenAPI document (shipped in `@neondatabase/api-client` as `public-v2-for-users.gen.yaml`) as a
 * validator for the fake: every request the fake receives and every response it sends is checked against it with
 * openapi-backend (ajv, plus ajv-formats for `date-time`), so the fake cannot drift from Neon and our client cannot
 * send what Neon does not read.
 *
 * One rule is stricter than JSON Schema: Neon's schemas leave objects open (no `additionalProperties: false`), so a
 * misspelt field would pass; here a field the spec does not list anywhere in the object's schema (its `properties`,
 * through `allOf`/`anyOf`/`oneOf` and `$ref`) is a violation, and so is an undeclared query parameter. Written by
 * hand: ajv's `unevaluatedProperties` needs draft 2019, which openapi-backend does not compile with.
 */
import * as fs from "node:fs";
import addFormats from "ajv-formats";
import OpenAPIBackend, { type Document, type Operation } from "openapi-backend";
import * as YAML from "yaml";

export const NEON_OPENAPI_FILE = require.resolve("@neondatabase/api-client/public-v2-for-users.gen.yaml");

type Schema = Record<string, unknown>;

/** The operations the Neon providers call (projects, branches, endpoints, roles, databases, operations). */
const PROVIDER_OPERATIONS =
  /^(list|create|get|update|delete)Project(s|Branch(es|Endpoints|Roles?|Databases?)?|Endpoints?|Operations?)?$|^resetProjectBranchRolePassword$/;

export interface SpecRequest {
  method: string;
  /** Below /api/v2, e.g. /projects/p-1/branches. */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export class NeonSpec {
  private constructor(
    private readonly api: OpenAPIBackend,
    private readonly doc: Document,
  ) {}

  static async load(): Promise<NeonSpec> {
    const doc = YAML.parse(fs.readFileSync(NEON_OPENAPI_FILE, "utf8")) as Document;
    const api = new OpenAPIBackend({
      definition: structuredClone(doc),
      // Validators are compiled per operation on first use: the document has hundreds of operations.
      quick: true,
      strict: false,
      validate: true,
      // ajv's code optimizer doubles the compile time of these large schemas; validation speed is not what tests wait on.
      ajvOpts: { code: { optimize: false } },
      customizeAjv: (ajv) => {
        addFormats(ajv);
        return ajv;
      },
    });
    await api.init();
    // Compile the operations the providers call now, not inside a test's first request (where a slow compile on a
    // busy machine would read as a Neon timeout).
    for (const op of api.getOperations()) {
      if (!op.operationId || !PROVIDER_OPERATIONS.test(op.operationId)) continue;
      api.validator.getRequestValidatorsForOperation(op.operationId);
      api.validator.getStatusBasedResponseValidatorForOperation(op.operationId);
    }
    return new NeonSpec(api, doc);
  }

  /** The operation a request is for, or undefined when Neon's API has no such path and method. */
  operation(method: string, path: string): Operation | undefined {
    return this.api.router.matchOperation({ method: method.toLowerCase(), path, headers: {} }) as Operation | undefined;
  }

  /** What is wrong with a request, by Neon's spec (empty: nothing). */
  checkRequest(req: SpecRequest): { operationId?: string; problems: string[] } {
    const op = this.operation(req.method, req.path);
    if (!op) return { problems: [`${req.method} ${req.path}: no such operation in Neon's API`] };
    const problems: string[] = [];
    const withBody = req.body !== undefined && op.requestBody !== undefined;
    const result = this.api.validateRequest(
      {
        method: req.method.toLowerCase(),
        path: req.path,
        query: req.query,
        headers: { "content-type": "application/json", ...req.headers } as Record<string, string>,
        ...(withBody ? { body: req.body } : {}),
      },
      op,
    );
    for (const e of result.errors ?? []) problems.push(`${e.instancePath || "(request)"} ${e.message ?? e.keyword}`);
    const declared = new Set(
      [...((op.parameters ?? []) as { in: string; name: string; $ref?: string }[])].map(
        (p) => (this.resolve(p as Schema) as { name: string }).name,
      ),
    );
    for (const k of Object.keys(req.query)) if (!declared.has(k)) problems.push(`query parameter '${k}' is not in the spec`);
    if (req.body !== undefined && !op.requestBody) problems.push("a body where the spec takes none");
    const bodySchema = (this.resolve(op.requestBody as Schema | undefined) as { content?: Record<string, Schema> })
      ?.content?.["application/json"]?.schema as Schema | undefined;
    if (withBody && bodySchema) this.unknownFields(bodySchema, req.body, "body", problems);
    return { operationId: op.operationId, problems };
  }

  /** What is wrong with a response to an operation, by Neon's spec (error statuses use its `default` response). */
  checkResponse(operationId: string, status: number, body: unknown): string[] {
    const op = this.api.getOperation(operationId);
    if (!op) return [`no operation ${operationId}`];
    const responses = op.responses as Record<string, Schema>;
    // A success must be one the operation lists; an error falls back to `default` (GeneralError), as in the spec.
    const declared = responses[String(status)] ?? (status >= 400 ? responses.default : undefined);
    if (!declared) return [`status ${status} is not among the operation's responses`];
    const problems: string[] = [];
    const result = this.api.validateResponse(body, op, status);
    for (const e of result.errors ?? []) problems.push(`${e.instancePath || "(response)"} ${e.message ?? e.keyword}`);
    const schema = (this.resolve(declared) as { content?: Record<string, Schema> }).content?.["application/json"]
      ?.schema as Schema | undefined;
    if (schema) this.unknownFields(schema, body, "response", problems);
    return problems;
  }

  // ---- the closed-object rule -----------------------------------------------------------------------------------

  private resolve(s: Schema | undefined): Schema | undefined {
    let cur = s;
    for (let i = 0; cur && typeof cur.$ref === "string" && i < 20; i++) {
      const parts = (cur.$ref as string).replace(/^#\//, "").split("/");
      cur = parts.reduce<unknown>((o, p) => (o as Record<string, unknown>)?.[p], this.doc) as Schema | undefined;
    }
    return cur;
  }

  /** The schema and every schema it is composed of. */
  private members(s: Schema | undefined, out: Schema[] = []): Schema[] {
    const r = this.resolve(s);
    if (!r || out.includes(r)) return out;
    out.push(r);
    for (const k of ["allOf", "anyOf", "oneOf"]) for (const m of (r[k] as Schema[] | undefined) ?? []) this.members(m, out);
    return out;
  }

  private unknownFields(schema: Schema, value: unknown, at: string, problems: string[]): void {
    const parts = this.members(schema);
    if (Array.isArray(value)) {
      const items = parts.map((p) => p.items as Schema | undefined).find(Boolean);
      if (items) value.forEach((v, i) => this.unknownFields(items, v, `${at}[${i}]`, problems));
      return;
    }
    if (!value || typeof value !== "object") return;
    const open = parts.some((p) => p.additionalProperties !== undefined && p.additionalProperties !== false);
    const props = new Map<string, Schema>();
    for (const p of parts) {
      for (const [k, v] of Object.entries((p.properties as Record<string, Schema>) ?? {})) if (!props.has(k)) props.set(k, v);
    }
    if (props.size === 0) return; // a free-form object
    for (const [k, v] of Object.entries(value)) {
      const sub = props.get(k);
      if (sub) this.unknownFields(sub, v, `${at}.${k}`, problems);
      else if (!open) problems.push(`${at}.${k} is not a field of Neon's schema here`);
    }
  }
}

let loading: Promise<NeonSpec> | undefined;
/** The spec, parsed once per test process (about half a second). */
export const neonSpec = (): Promise<NeonSpec> => (loading ??= NeonSpec.load());
