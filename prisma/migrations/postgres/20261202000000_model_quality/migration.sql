-- Model quality: server optimiser state and validation scores per model version, the promoted version,
-- the selection rule and early stopping per federation, and the operator's validation rows.

-- AlterTable
ALTER TABLE "Federation" ADD COLUMN     "promotedModelVersion" INTEGER,
ADD COLUMN     "selection" TEXT,
ADD COLUMN     "trainingStop" TEXT;

-- AlterTable
ALTER TABLE "ModelVersion" ADD COLUMN     "optimizerState" BYTEA,
ADD COLUMN     "validation" TEXT;

-- CreateTable
CREATE TABLE "ValidationSet" (
    "id" TEXT NOT NULL,
    "federationId" TEXT NOT NULL,
    "csv" TEXT NOT NULL,
    "rows" INTEGER NOT NULL,
    "positives" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ValidationSet_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "ValidationSet_federationId_key" ON "ValidationSet"("federationId");

-- AddForeignKey
ALTER TABLE "ValidationSet" ADD CONSTRAINT "ValidationSet_federationId_fkey" FOREIGN KEY ("federationId") REFERENCES "Federation"("id") ON DELETE CASCADE ON UPDATE CASCADE;
