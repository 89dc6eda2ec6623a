/**
 * The client type repositories accept: the root Prisma client or an interactive transaction's client, so
 * a service can compose several repository calls into one transaction.
 */
import type { Prisma } from './generated/sqlite/client.js';
import type { Db } from './client.js';

export type DbClient = Db | Prisma.TransactionClient;
