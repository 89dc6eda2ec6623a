-- AlterTable
ALTER TABLE "Federation" ADD COLUMN     "secureConfig" TEXT;

-- AlterTable
ALTER TABLE "Owner" ADD COLUMN     "committeeVolunteer" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "publicKey" BYTEA,
ADD COLUMN     "role" TEXT NOT NULL DEFAULT 'owner';

-- AlterTable
ALTER TABLE "Round" ADD COLUMN     "includedCount" INTEGER,
ADD COLUMN     "includedSetHash" TEXT,
ADD COLUMN     "partialSumCount" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "summingDeadline" TIMESTAMP(3);

-- CreateTable
CREATE TABLE "CommitteeSeat" (
    "id" TEXT NOT NULL,
    "roundId" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "ownerId" TEXT NOT NULL,
    "publicKey" BYTEA NOT NULL,

    CONSTRAINT "CommitteeSeat_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ShareEnvelope" (
    "id" TEXT NOT NULL,
    "roundId" TEXT NOT NULL,
    "senderId" TEXT NOT NULL,
    "recipientId" TEXT NOT NULL,
    "envelope" BYTEA NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ShareEnvelope_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "PartialSum" (
    "id" TEXT NOT NULL,
    "roundId" TEXT NOT NULL,
    "memberId" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "includedSetHash" TEXT NOT NULL,
    "values" BYTEA NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "PartialSum_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "CommitteeSeat_roundId_position_key" ON "CommitteeSeat"("roundId", "position");

-- CreateIndex
CREATE UNIQUE INDEX "CommitteeSeat_roundId_ownerId_key" ON "CommitteeSeat"("roundId", "ownerId");

-- CreateIndex
CREATE INDEX "ShareEnvelope_roundId_recipientId_idx" ON "ShareEnvelope"("roundId", "recipientId");

-- CreateIndex
CREATE UNIQUE INDEX "ShareEnvelope_roundId_senderId_recipientId_key" ON "ShareEnvelope"("roundId", "senderId", "recipientId");

-- CreateIndex
CREATE UNIQUE INDEX "PartialSum_roundId_memberId_key" ON "PartialSum"("roundId", "memberId");

-- CreateIndex
CREATE UNIQUE INDEX "PartialSum_roundId_position_key" ON "PartialSum"("roundId", "position");

-- AddForeignKey
ALTER TABLE "CommitteeSeat" ADD CONSTRAINT "CommitteeSeat_roundId_fkey" FOREIGN KEY ("roundId") REFERENCES "Round"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "CommitteeSeat" ADD CONSTRAINT "CommitteeSeat_ownerId_fkey" FOREIGN KEY ("ownerId") REFERENCES "Owner"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ShareEnvelope" ADD CONSTRAINT "ShareEnvelope_roundId_fkey" FOREIGN KEY ("roundId") REFERENCES "Round"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ShareEnvelope" ADD CONSTRAINT "ShareEnvelope_senderId_fkey" FOREIGN KEY ("senderId") REFERENCES "Owner"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "PartialSum" ADD CONSTRAINT "PartialSum_roundId_fkey" FOREIGN KEY ("roundId") REFERENCES "Round"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "PartialSum" ADD CONSTRAINT "PartialSum_memberId_fkey" FOREIGN KEY ("memberId") REFERENCES "Owner"("id") ON DELETE CASCADE ON UPDATE CASCADE;

