/**
 * Statements that hold a lock writers queue behind for as long as a table scan or rewrite takes, decided from
 * PostgreSQL's own parse tree (libpg-query). The runner refuses them before anything runs unless the comment right
 * before the statement says why it is fine:
 *
 *   -- mauntic:allow-blocking the table holds 40 rows and no worker writes to it yet
 *   ALTER TABLE crm.tags ALTER COLUMN name TYPE varchar(200);
 *
 * The list and its sources (PostgreSQL 17 docs):
 * - CREATE INDEX without CONCURRENTLY: SHARE lock, "locks out writes ... until it's done"
 *   (https://www.postgresql.org/docs/17/sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY).
 * - REINDEX without CONCURRENTLY: "locks out writes but not reads of the index's parent table"
 *   (https://www.postgresql.org/docs/17/sql-reindex.html).
 * - VACUUM FULL and CLUSTER: ACCESS EXCLUSIVE while the table is rewritten
 *   (https://www.postgresql.org/docs/17/sql-vacuum.html, https://www.postgresql.org/docs/17/sql-cluster.html).
 * - REFRESH MATERIALIZED VIEW without CONCURRENTLY: ACCESS EXCLUSIVE for the refresh
 *   (https://www.postgresql.org/docs/17/sql-refreshmaterializedview.html).
 * - ALTER TABLE (ACCESS EXCLUSIVE unless noted; https://www.postgresql.org/docs/17/sql-altertable.html#SQL-ALTERTABLE-NOTES):
 *   rewrites: SET DATA TYPE (no rewrite only when binary coercible, which the parse cannot tell), ADD COLUMN with a
 *   volatile DEFAULT, a stored generated column, an identity column or a serial type, SET TABLESPACE,
 *   SET LOGGED/UNLOGGED, SET ACCESS METHOD; scans: ADD CONSTRAINT CHECK / FOREIGN KEY without NOT VALID (a foreign
 *   key takes SHARE ROW EXCLUSIVE, which blocks writers too), SET NOT NULL, and ADD PRIMARY KEY / UNIQUE /
 *   EXCLUDE without USING INDEX (an index build under ACCESS EXCLUSIVE).
 * A table created earlier in the same file is exempt: no other session can see it before the file commits.
 */

export const ALLOW_MARKER = "mauntic:allow-blocking";

type Node = Record<string, unknown>;
interface RangeVar {
  schemaname?: string;
  relname: string;
}

/** Functions known not to be volatile, so a DEFAULT calling them is stored once, not written to every row. */
const NON_VOLATILE_DEFAULTS = new Set(["now", "transaction_timestamp", "statement_timestamp", "current_setting"]);

const relKey = (r: RangeVar): string => `${r.schemaname ?? ""}.${r.relname}`;
const relText = (r: RangeVar): string => (r.schemaname ? `${r.schemaname}.${r.relname}` : r.relname);

/** Every FuncCall name inside an expression tree. */
function functionsIn(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) functionsIn(n, out);
  else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node as Node)) {
      if (k === "FuncCall") {
        const names = ((v as Node).funcname as { String?: { sval: string } }[]) ?? [];
        out.push(names.map((n) => n.String?.sval ?? "").join("."));
      }
      functionsIn(v, out);
    }
  }
  return out;
}

function constraintsOf(def: Node | undefined): Node[] {
  const cons = ((def?.ColumnDef as Node | undefined)?.constraints as { Constraint?: Node }[] | undefined) ?? [];
  return cons.flatMap((c) => (c.Constraint ? [c.Constraint] : []));
}

/** Why an ADD COLUMN rewrites or scans the table, if it does. */
function addColumnReason(def: Node): string | undefined {
  const col = def.ColumnDef as Node;
  const type = ((col.typeName as Node | undefined)?.names as { String?: { sval: string } }[] | undefined)
    ?.map((n) => n.String?.sval)
    .join(".");
  if (type && /(^|\.)(small|big)?serial[248]?$/.test(type)) return `ADD COLUMN ${col.colname} ${type} (a rewrite)`;
  for (const c of constraintsOf(def)) {
    switch (c.contype) {
      case "CONSTR_DEFAULT": {
        const fns = functionsIn(c.raw_expr).filter((f) => !NON_VOLATILE_DEFAULTS.has(f.replace(/^pg_catalog\./, "")));
        if (fns.length)
          return `ADD COLUMN ${col.colname} with DEFAULT ${fns[0]}(), not known to be non-volatile (a rewrite)`;
        break;
      }
      case "CONSTR_GENERATED":
        return `ADD COLUMN ${col.colname} GENERATED ... STORED (a rewrite)`;
      case "CONSTR_IDENTITY":
        return `ADD COLUMN ${col.colname} GENERATED AS IDENTITY (a rewrite)`;
      case "CONSTR_FOREIGN":
      case "CONSTR_CHECK":
        if (!c.skip_validation)
          return `ADD COLUMN ${col.colname} with a ${c.contype === "CONSTR_CHECK" ? "CHECK" : "REFERENCES"} constraint (a scan)`;
        break;
    }
  }
  return undefined;
}

function addConstraintReason(c: Node): string | undefined {
  const name = c.conname ? ` ${String(c.conname)}` : "";
  switch (c.contype) {
    case "CONSTR_CHECK":
    case "CONSTR_FOREIGN":
      return c.skip_validation
        ? undefined
        : `ADD CONSTRAINT${name} ${c.contype === "CONSTR_CHECK" ? "CHECK" : "FOREIGN KEY"} without NOT VALID (a scan; add it NOT VALID, then VALIDATE CONSTRAINT)`;
    case "CONSTR_PRIMARY":
    case "CONSTR_UNIQUE":
    case "CONSTR_EXCLUSION":
      return c.indexname
        ? undefined
        : `ADD CONSTRAINT${name} ${String(c.contype).slice(7).replace("_", " ")} without USING INDEX (an index build under ACCESS EXCLUSIVE; build the index CONCURRENTLY first)`;
    default:
      return undefined;
  }
}

const ALTER_REASONS: Record<string, string> = {
  AT_AlterColumnType: "SET DATA TYPE (a rewrite unless the types are binary coercible)",
  AT_SetNotNull: "SET NOT NULL (a scan; add a CHECK (col IS NOT NULL) NOT VALID and VALIDATE it first)",
  AT_SetTableSpace: "SET TABLESPACE (a rewrite)",
  AT_SetLogged: "SET LOGGED (a rewrite)",
  AT_SetUnLogged: "SET UNLOGGED (a rewrite)",
  AT_SetAccessMethod: "SET ACCESS METHOD (a rewrite)",
  AT_SetExpression: "SET EXPRESSION (a rewrite)",
};

/**
 * Tracks the relations a file creates and tells, statement by statement, what would block writers. Call `check`
 * for each statement in file order.
 */
export class BlockingDdl {
  private readonly created = new Set<string>();

  private isNew(r: RangeVar): boolean {
    return this.created.has(relKey(r)) || (!r.schemaname && [...this.created].some((k) => k.endsWith(`.${r.relname}`)));
  }

  /** What in this statement blocks writers for a scan or rewrite, or undefined. */
  check(stmt: Node): string | undefined {
    const [type] = Object.keys(stmt);
    const body = (type ? stmt[type] : {}) as Node;
    switch (type) {
      case "CreateStmt":
        this.created.add(relKey(body.relation as RangeVar));
        return undefined;
      case "CreateTableAsStmt":
        this.created.add(relKey((body.into as Node).rel as RangeVar));
        return undefined;
      case "IndexStmt": {
        const rel = body.relation as RangeVar;
        if (body.concurrent || this.isNew(rel)) return undefined;
        return `CREATE ${body.unique ? "UNIQUE " : ""}INDEX without CONCURRENTLY on ${relText(rel)} locks out writes for the whole build (allowed: CREATE INDEX CONCURRENTLY IF NOT EXISTS, alone in its file)`;
      }
      case "ReindexStmt": {
        const params = (body.params ?? []) as { DefElem?: { defname?: string } }[];
        if (params.some((p) => p.DefElem?.defname === "concurrently")) return undefined;
        return "REINDEX without CONCURRENTLY locks out writes to the table while it rebuilds (allowed: REINDEX (CONCURRENTLY) ..., alone in its file)";
      }
      case "VacuumStmt": {
        const opts = (body.options ?? []) as { DefElem?: { defname?: string } }[];
        if (!body.is_vacuumcmd || !opts.some((o) => o.DefElem?.defname === "full")) return undefined;
        return "VACUUM FULL holds ACCESS EXCLUSIVE while it rewrites the table";
      }
      case "ClusterStmt":
        return "CLUSTER holds ACCESS EXCLUSIVE while it rewrites the table";
      case "RefreshMatViewStmt": {
        const rel = body.relation as RangeVar;
        if (body.concurrent || this.isNew(rel)) return undefined;
        return `REFRESH MATERIALIZED VIEW ${relText(rel)} without CONCURRENTLY holds ACCESS EXCLUSIVE for the refresh`;
      }
      case "AlterTableStmt": {
        const rel = body.relation as RangeVar;
        if (body.objtype !== "OBJECT_TABLE" || this.isNew(rel)) return undefined;
        const reasons = ((body.cmds ?? []) as { AlterTableCmd: Node }[]).flatMap(({ AlterTableCmd: cmd }) => {
          const sub = String(cmd.subtype);
          const def = cmd.def as Node | undefined;
          const r =
            sub === "AT_AddColumn" && def
              ? addColumnReason(def)
              : sub === "AT_AddConstraint" && def?.Constraint
                ? addConstraintReason(def.Constraint as Node)
                : ALTER_REASONS[sub];
          return r ? [r] : [];
        });
        if (!reasons.length) return undefined;
        return `ALTER TABLE ${relText(rel)} ${reasons.join("; ")}: writers queue behind its lock until it ends`;
      }
      default:
        return undefined;
    }
  }
}

/** The reason given by a `-- mauntic:allow-blocking <reason>` line in the comments before a statement. */
export function allowBlockingReason(leadingComments: string): string | undefined {
  const m = new RegExp(`--\\s*${ALLOW_MARKER}\\b[ \\t:]*(.*)`).exec(leadingComments);
  return m ? m[1]!.trim() : undefined;
}
