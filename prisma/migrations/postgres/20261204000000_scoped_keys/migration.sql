-- Scoped API keys (one federation, some scopes) beside operator keys; owners the operator removed.

-- AlterTable
ALTER TABLE "ApiKey" ADD COLUMN "federationId" TEXT,
ADD COLUMN "scopes" TEXT;

-- AlterTable
ALTER TABLE "Owner" ADD COLUMN "removedAt" TIMESTAMP(3);

-- CreateIndex
CREATE INDEX "ApiKey_federationId_idx" ON "ApiKey"("federationId");

-- AddForeignKey
ALTER TABLE "ApiKey" ADD CONSTRAINT "ApiKey_federationId_fkey" FOREIGN KEY ("federationId") REFERENCES "Federation"("id") ON DELETE CASCADE ON UPDATE CASCADE;
