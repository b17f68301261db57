/**
 * Neon endpoint hosts, as plain functions (no Pulumi import): the program derives the pooled host with them, and the
 * migration runner refuses the pooled host with them.
 */

/** Whether a host is Neon's pooled (PgBouncer, transaction mode) host: its first label ends in `-pooler`. */
export function isPoolerHost(host: string): boolean {
  return /-pooler$/i.test(host.split(".")[0] ?? "");
}

/** Neon's pooled host for an endpoint host: the endpoint id, the first label, gets `-pooler`. */
export function poolerHost(host: string): string {
  const [first, ...rest] = host.split(".");
  if (!first || rest.length === 0) throw new Error(`'${host}' is not a Neon endpoint host (allowed: ep-....neon.tech)`);
  return isPoolerHost(host) ? host : [`${first}-pooler`, ...rest].join(".");
}
