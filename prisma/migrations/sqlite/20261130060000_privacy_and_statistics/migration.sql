-- AlterTable
ALTER TABLE "Federation" ADD COLUMN "privacyConfig" TEXT;
ALTER TABLE "Federation" ADD COLUMN "privacyLedger" TEXT;
ALTER TABLE "Federation" ADD COLUMN "standardisation" TEXT;

-- AlterTable
ALTER TABLE "ModelVersion" ADD COLUMN "delta" REAL;
ALTER TABLE "ModelVersion" ADD COLUMN "epsilon" REAL;

-- AlterTable
ALTER TABLE "Round" ADD COLUMN "config" TEXT;
ALTER TABLE "Round" ADD COLUMN "kind" TEXT NOT NULL DEFAULT 'training';
ALTER TABLE "Round" ADD COLUMN "targetOwners" INTEGER;
ALTER TABLE "Round" ADD COLUMN "trainingIndex" INTEGER;
