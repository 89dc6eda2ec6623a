-- Federated evaluation: an evaluation round keeps the report derived from the owners' summed tallies.

-- AlterTable
ALTER TABLE "Round" ADD COLUMN "evaluationReport" TEXT;
