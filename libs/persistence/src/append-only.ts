import type { QueryRunner } from 'typeorm';

/**
 * Makes a table append-only for everyone, its owner included: a trigger
 * refuses UPDATE and DELETE per row and TRUNCATE per statement, raising
 * `insufficient_privilege`. Used by the audit logs' migrations
 * (`schema.table`, e.g. `router.audit_log`); undo with `dropAppendOnly`.
 */
export async function makeAppendOnly(q: Pick<QueryRunner, 'query'>, qualifiedTable: string): Promise<void> {
  const [schema, table] = qualifiedTable.split('.');
  const fn = `${schema}.${table}_append_only()`;
  await q.query(`
      CREATE FUNCTION ${fn} RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION '${qualifiedTable} is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
      END $$`);
  await q.query(`CREATE TRIGGER ${table}_no_update_delete BEFORE UPDATE OR DELETE ON ${qualifiedTable}
      FOR EACH ROW EXECUTE FUNCTION ${fn}`);
  await q.query(`CREATE TRIGGER ${table}_no_truncate BEFORE TRUNCATE ON ${qualifiedTable}
      FOR EACH STATEMENT EXECUTE FUNCTION ${fn}`);
}

/** The trigger function `makeAppendOnly` created (drop the table first: its triggers go with it). */
export async function dropAppendOnly(q: Pick<QueryRunner, 'query'>, qualifiedTable: string): Promise<void> {
  const [schema, table] = qualifiedTable.split('.');
  await q.query(`DROP FUNCTION ${schema}.${table}_append_only()`);
}
