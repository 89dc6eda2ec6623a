-- AlterTable
ALTER TABLE "Federation" ADD COLUMN     "privacyConfig" TEXT,
ADD COLUMN     "privacyLedger" TEXT,
ADD COLUMN     "standardisation" TEXT;

-- AlterTable
ALTER TABLE "ModelVersion" ADD COLUMN     "delta" DOUBLE PRECISION,
ADD COLUMN     "epsilon" DOUBLE PRECISION;

-- AlterTable
ALTER TABLE "Round" ADD COLUMN     "config" TEXT,
ADD COLUMN     "kind" TEXT NOT NULL DEFAULT 'training',
ADD COLUMN     "targetOwners" INTEGER,
ADD COLUMN     "trainingIndex" INTEGER;
