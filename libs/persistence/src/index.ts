export { openDatabase, preparedQuery, migrate, migrationsApplied, databaseReachable, isUniqueViolation, DataSource } from './database';
export type { ServiceDatabaseOptions, MigrationClass, MigrationInterface, QueryRunner } from './database';
export { makeAppendOnly, dropAppendOnly } from './append-only';
