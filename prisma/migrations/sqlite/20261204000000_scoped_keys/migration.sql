-- Scoped API keys (one federation, some scopes) beside operator keys; owners the operator removed.

-- AlterTable
ALTER TABLE "ApiKey" ADD COLUMN "federationId" TEXT REFERENCES "Federation" ("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "ApiKey" ADD COLUMN "scopes" TEXT;

-- AlterTable
ALTER TABLE "Owner" ADD COLUMN "removedAt" DATETIME;

-- CreateIndex
CREATE INDEX "ApiKey_federationId_idx" ON "ApiKey"("federationId");
