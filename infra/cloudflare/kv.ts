/**
 * Workers KV: the stack's namespaces (one `mauntic-<stack>-<namespace>` each; previews get their own, KV namespaces
 * are cheap and keys must not leak between a preview and dev) and the cache catalog that lives in them.
 */
import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/schema";
import { cloudName } from "../naming";
import { bindingName, cacheCatalog, type CatalogEntry } from "./cache-catalog";

export interface KvCacheArgs {
  stack: string;
  /** Cloudflare account that owns the namespaces (`cloudflare.accountId`). */
  accountId: string;
  /** `kv`: namespaces with the workers bound to them, and the catalog of cache keys. */
  kv: StackConfig["kv"];
}

export interface KvNamespaceEntry {
  title: string;
  binding: string;
  boundTo: string[];
  id: pulumi.Output<string>;
}

export class KvCache extends pulumi.ComponentResource {
  readonly namespaces: Record<string, KvNamespaceEntry>;
  /** The catalog with each entry's namespace id, for the `kvCatalog` stack output. */
  readonly catalog: Record<string, CatalogEntry & { namespaceId: pulumi.Output<string> }>;

  constructor(name: string, args: KvCacheArgs, opts?: pulumi.ComponentResourceOptions) {
    super("mauntic:cloudflare:KvCache", name, {}, opts);
    this.namespaces = {};
    for (const [ns, spec] of Object.entries(args.kv.namespaces)) {
      const title = cloudName(args.stack, "kv", ns);
      const resource = new cloudflare.WorkersKvNamespace(title, { accountId: args.accountId, title }, { parent: this });
      this.namespaces[ns] = { title, binding: bindingName(ns), boundTo: [...spec.boundTo], id: resource.id };
    }
    this.catalog = Object.fromEntries(
      Object.entries(cacheCatalog(args)).map(([k, e]) => [k, { ...e, namespaceId: this.namespaces[e.namespace]!.id }]),
    );
    this.registerOutputs({
      namespaces: Object.fromEntries(Object.entries(this.namespaces).map(([k, v]) => [k, v.id])),
    });
  }
}
