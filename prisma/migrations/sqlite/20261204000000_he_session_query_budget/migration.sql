-- Query budget of encrypted-prediction sessions: applicant slots evaluated so far, charged against
-- HE_SESSION_QUERY_BUDGET by one conditional update before each evaluation.

-- AlterTable
ALTER TABLE "HeSession" ADD COLUMN "queriesUsed" INTEGER NOT NULL DEFAULT 0;
